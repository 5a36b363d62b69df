// Errors as values. Every layer below the API edges returns a Status or a
// Result<T>; the OCI and ECR edges each turn a Status into their own wire error
// in exactly one place (oci/errors.cc, ecr/ecr_error.cc).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace berth {

// Domain error codes. They name what went wrong, not how an API reports it.
enum class Code {
  kOk = 0,
  // Generic.
  kInvalidArgument,     // a request field is malformed or out of range
  kNotFound,            // a generic missing thing (no more specific code fits)
  kAlreadyExists,       // a create collided with an existing resource
  kFailedPrecondition,  // the resource is in a state that forbids the operation
  kUnauthenticated,     // no or bad credentials
  kPermissionDenied,    // credentials fine, action not allowed
  kResourceExhausted,   // a limit or quota was hit (too many requests, too large)
  kUnsupported,         // valid request for something berth does not do
  kInternal,            // a bug or an I/O failure; details go to the log only
  kStorageFull,         // the disk holding berth's data is full (ENOSPC, SQLITE_FULL)
  kUnavailable,         // try again later (store busy, shutting down)
  // Registry specific.
  kNameInvalid,          // repository name violates the grammar
  kNameUnknown,          // repository does not exist
  kTagInvalid,           // tag violates the grammar
  kDigestInvalid,        // malformed digest, or content does not match it
  kBlobUnknown,          // blob not known in that repository
  kBlobUploadUnknown,    // upload session not found or expired
  kBlobUploadInvalid,    // upload session exists but the request breaks it
  kRangeInvalid,         // chunk out of order or overlapping (HTTP 416)
  kSizeInvalid,          // declared and actual length differ
  kManifestInvalid,      // does not parse or does not match its schema
  kManifestUnknown,      // no such manifest / tag
  kManifestBlobUnknown,  // a manifest refers to a blob the repository lacks
  kManifestReferenced,   // a manifest is still referenced (e.g. by an index)
  kTagImmutable,         // the tag exists and the repository forbids moving it
  kTooLarge,             // body exceeds a configured limit
  kRepositoryNotEmpty,   // delete without force on a repository with images
  kLimitExceeded,
  kLifecyclePolicyPreviewNotFound,
  // Authentication specifics (ECR reports each with its own exception name).
  kMissingAuthentication,  // no signature / no credentials at all
  kIncompleteSignature,    // Authorization header malformed or missing parts
  kSignatureInvalid,       // signature does not match (wrong secret, altered request)
  kUnknownAccessKey,       // access key id not known (or deleted)
  kSignatureExpired,       // request date outside the allowed clock skew
  kTokenInvalid,           // registry token malformed or forged
  kTokenExpired,  // registry token past its lifetime, or its access key disabled or deleted
};

std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status error(Code code, std::string message) {
  return Status(code, std::move(message));
}

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).is_ok());
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  Status take_status() { return is_ok() ? Status() : std::move(std::get<Status>(v_)); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace berth

// Returns early from a function returning Status or Result<T> when `expr`
// (a Status) is not ok.
#define BERTH_RETURN_IF_ERROR(expr) \
  do {                              \
    ::berth::Status _st = (expr);   \
    if (!_st.is_ok()) return _st;   \
  } while (0)

#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)
// `BERTH_ASSIGN_OR_RETURN(auto x, expr)` where expr yields a Result<T>.
#define BERTH_ASSIGN_OR_RETURN(lhs, expr) \
  BERTH_ASSIGN_OR_RETURN_IMPL(BERTH_CONCAT(_res_, __LINE__), lhs, expr)
#define BERTH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.is_ok()) return tmp.take_status();       \
  lhs = std::move(tmp).value()
