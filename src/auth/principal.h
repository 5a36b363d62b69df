// Who a request comes from, once authenticated.
#pragma once

#include <string>

namespace berth::auth {

struct Principal {
  bool authenticated = false;
  std::string account_id;     // twelve digits
  std::string user_name;      // within the account
  std::string access_key_id;  // the key that signed or minted the credentials
  bool admin = false;         // may do everything within its account
};

}  // namespace berth::auth
