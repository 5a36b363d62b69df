// The per-request authentication costs: SigV4 verification of an ECR call and
// registry token verification of a /v2 call (paid on every pull request).
#include <benchmark/benchmark.h>

#include <optional>
#include <string>

#include "auth/registry_token.h"
#include "auth/sigv4.h"
#include "core/clock.h"

namespace {

using berth::auth::SigV4Request;

constexpr int64_t kNow = 1'714'564'800;  // 2024-05-01T12:00:00Z
constexpr const char* kAccessKeyId = "BKIABENCHADMIN000000";
constexpr const char* kSecret = "benchSecretAccessKey0000000000000000000x";

// A DescribeImages call as botocore sends it to `aws ecr --endpoint-url`.
SigV4Request signed_ecr_request() {
  SigV4Request request;
  request.method = "POST";
  request.raw_path = "/";
  const std::string body =
      R"({"repositoryName": "team/api", "maxResults": 100, "filter": {"tagStatus": "TAGGED"}})";
  request.headers = {
      {"Host", "127.0.0.1:5000"},
      {"Accept-Encoding", "identity"},
      {"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeImages"},
      {"Content-Type", "application/x-amz-json-1.1"},
      {"User-Agent",
       "aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0 exe/x86_64.debian.12 prompt/off "
       "command/ecr.describe-images"},
      {"Content-Length", std::to_string(body.size())},
  };
  request.payload_sha256 = berth::auth::sha256_hex(body);
  auto authz =
      berth::auth::sign_request(request, {kAccessKeyId, kSecret}, "us-east-1", "ecr", kNow);
  if (!authz.is_ok()) request.headers.clear();  // verify then fails and the bench reports it
  return request;
}

void BM_SigV4VerifyEcrRequest(benchmark::State& state) {
  const SigV4Request request = signed_ecr_request();
  berth::auth::VerifierOptions options;
  options.region = "us-east-1";
  const berth::auth::SecretLookup lookup = [](std::string_view id) -> std::optional<std::string> {
    if (id == kAccessKeyId) return std::string(kSecret);
    return std::nullopt;
  };
  const berth::FakeClock clock(kNow * 1000);
  if (auto check = berth::auth::verify_request(request, options, lookup, clock); !check.is_ok()) {
    state.SkipWithError(check.status().to_string().c_str());
    return;
  }
  for (auto _ : state) {
    auto verified = berth::auth::verify_request(request, options, lookup, clock);
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_SigV4VerifyEcrRequest);

void BM_RegistryTokenVerify(benchmark::State& state) {
  berth::auth::TokenKey key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 37 + 11);
  berth::auth::TokenClaims claims;
  claims.account_id = "000000000000";
  claims.access_key_id = kAccessKeyId;
  claims.user_name = "admin";
  claims.issued_at = kNow;
  claims.expires_at = kNow + berth::auth::kRegistryTokenLifetimeSeconds;
  const std::string token = berth::auth::issue_registry_token(claims, key);
  const berth::FakeClock clock((kNow + 60) * 1000);
  if (auto check = berth::auth::verify_registry_token(token, key, clock); !check.is_ok()) {
    state.SkipWithError(check.status().to_string().c_str());
    return;
  }
  for (auto _ : state) {
    auto verified = berth::auth::verify_registry_token(token, key, clock);
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_RegistryTokenVerify);

// What a /v2 request pays before the token: decoding the Basic header.
void BM_ParseBasicAuthorization(benchmark::State& state) {
  berth::auth::TokenKey key{};
  berth::auth::TokenClaims claims{"000000000000", kAccessKeyId, "admin", kNow,
                                  kNow + berth::auth::kRegistryTokenLifetimeSeconds};
  const std::string header = "Basic " + berth::auth::ecr_authorization_token(
                                            berth::auth::issue_registry_token(claims, key));
  for (auto _ : state) {
    auto creds = berth::auth::parse_basic_authorization(header);
    benchmark::DoNotOptimize(creds);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseBasicAuthorization);

}  // namespace
