#include "identity/query_auth.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace berth::identity {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<auth::CredentialScope> scope_of(std::string_view credential) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t slash; (slash = credential.find('/', start)) != std::string_view::npos;) {
    parts.push_back(credential.substr(start, slash - start));
    start = slash + 1;
  }
  parts.push_back(credential.substr(start));
  if (parts.size() != 5 ||
      std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); })) {
    return std::nullopt;
  }
  return auth::CredentialScope{std::string(parts[1]), std::string(parts[2]), std::string(parts[3])};
}

Status unknown_key() {
  return error(Code::kUnknownAccessKey, "The security token included in the request is invalid.");
}

}  // namespace

std::optional<auth::CredentialScope> claimed_scope(const auth::SigV4Request& request) {
  for (const auto& h : request.headers) {
    if (!iequals(h.name, "authorization")) continue;
    constexpr std::string_view kCredential = "Credential=";
    auto at = h.value.find(kCredential);
    if (at == std::string::npos) return std::nullopt;
    std::string_view rest = std::string_view(h.value).substr(at + kCredential.size());
    return scope_of(rest.substr(0, rest.find_first_of(", ")));
  }
  auto params = berth::sigv4::decode_query(request.raw_query);
  if (!params) return std::nullopt;
  for (const auto& [name, value] : *params) {
    if (name == "X-Amz-Credential") return scope_of(value);
  }
  return std::nullopt;
}

auth::VerifierOptions QueryAuthenticator::options_for(const auth::SigV4Request& request,
                                                      std::string_view service) const {
  auth::VerifierOptions vo;
  vo.region = region_;
  if (auto scope = claimed_scope(request); scope && scope->region == kGlobalRegion) {
    vo.region = std::string(kGlobalRegion);
  }
  vo.service = std::string(service);
  // The form body chooses the action: how it is read must be signed, as
  // botocore and the AWS SDKs always do.
  vo.required_signed_headers = {"Content-Type"};
  return vo;
}

Result<std::optional<std::pair<AccessKeyRecord, UserRecord>>> QueryAuthenticator::active_key(
    std::string_view id) {
  using Found = std::optional<std::pair<AccessKeyRecord, UserRecord>>;
  auto key = store_.get_access_key(id);
  if (!key) {
    if (key.status().code() == Code::kNotFound) return Found();
    return key.take_status();
  }
  if (!key->active) return Found();
  auto user = store_.get_user(key->account_id, key->user_name);
  if (!user) {
    if (user.status().code() == Code::kNotFound) return Found();
    return user.take_status();
  }
  return Found(std::make_pair(std::move(key).value(), std::move(user).value()));
}

Result<auth::Principal> QueryAuthenticator::authenticate(const auth::SigV4Request& request,
                                                         std::string_view service) {
  std::optional<std::pair<AccessKeyRecord, UserRecord>> found;
  Status lookup_error;
  auto lookup = [&](std::string_view id) -> std::optional<std::string> {
    auto k = active_key(id);
    if (!k) {
      lookup_error = k.take_status();
      return std::nullopt;
    }
    found = std::move(k).value();
    if (!found) return std::nullopt;
    auto secret = auth::open_secret(found->first.sealed_secret, master_, found->first.id);
    if (!secret) {
      lookup_error = error(Code::kInternal, "cannot decrypt an access key secret");
      return std::nullopt;
    }
    return std::move(secret).value();
  };
  auto verified = auth::verify_request(request, options_for(request, service), lookup, clock_);
  if (!lookup_error.is_ok()) return lookup_error;
  if (!verified) return verified.take_status();
  if (!found) return unknown_key();
  auth::Principal p;
  p.authenticated = true;
  p.account_id = found->first.account_id;
  p.user_name = found->first.user_name;
  p.access_key_id = found->first.id;
  p.admin = found->second.admin;
  return p;
}

Status QueryAuthenticator::precheck(const auth::SigV4Request& request, std::string_view service) {
  BERTH_ASSIGN_OR_RETURN(std::string key_id,
                         auth::precheck_request(request, options_for(request, service), clock_));
  BERTH_ASSIGN_OR_RETURN(auto key, active_key(key_id));
  if (!key) return unknown_key();
  return Status::ok();
}

}  // namespace berth::identity
