// The identity generation (meta/identity_store.h), kept in the settings
// table, moved inside a caller's write transaction. Shared by the identity
// store and the PolicyStore's group policies.
#pragma once

#include "meta/sqlite/sqlite_db.h"

namespace berth::sqlite {

inline Status bump_identity_generation(Connection& c) {
  BERTH_ASSIGN_OR_RETURN(
      auto s, c.prepare("UPDATE settings SET value=CAST(CAST(value AS INTEGER)+1 AS TEXT) "
                        "WHERE key='identity_generation'"));
  return s.run();
}

}  // namespace berth::sqlite
