// The identity generation (meta/identity_store.h), kept in the settings
// table, moved inside a caller's write transaction. Shared by the identity
// store and the PolicyStore's group policies.
#pragma once

#include "meta/postgres/postgres_db.h"

namespace berth::pg {

inline Status bump_identity_generation(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(
      auto s,
      c.prepare(
          "UPDATE settings SET value=(value::bigint+1)::text WHERE key='identity_generation'"));
  return s.run();
}

}  // namespace berth::pg
