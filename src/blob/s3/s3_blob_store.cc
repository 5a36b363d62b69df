#include "blob/s3/s3_blob_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <future>
#include <system_error>
#include <thread>

#include <fmt/format.h>

namespace berth::s3 {

namespace {

constexpr std::string_view kCommitHeader = "x-amz-meta-berth-commit";

bool valid_upload_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status unknown_upload() {
  return error(Code::kBlobUploadUnknown, "upload not found");
}

std::string random_token() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();
  std::string out;
  for (unsigned char c : b) out += fmt::format("{:02x}", c);
  return out;
}

std::string segment_name(uint64_t offset) {
  return fmt::format("{:020}", offset);
}

// One ranged GET of `want` bytes of `key` from byte `from`: exactly `want`
// bytes, or an error (a short answer is one).
Result<std::string> get_range(S3Client& client, const std::string& key, uint64_t from,
                              uint64_t want, Code missing) {
  S3Request req;
  req.key = key;
  req.headers.push_back({"Range", fmt::format("bytes={}-{}", from, from + want - 1)});
  BERTH_ASSIGN_OR_RETURN(S3Response res, client.send(req));
  if (res.status != 200 && res.status != 206) return s3_status("GET " + key, res, missing);
  if (res.body.size() < want) {
    return error(Code::kInternal, fmt::format("GET {}: {} bytes where {} were expected", key,
                                              res.body.size(), want));
  }
  res.body.resize(static_cast<size_t>(want));
  return std::move(res.body);
}

// Reads a blob or an upload snapshot: a sequence of objects ("pieces") that
// together hold bytes [0, size), in windows of kReadWindow bytes (each within
// one piece). While a caller reads on sequentially (from 0, or from where the
// current window ends), the next kReadAhead windows are already being fetched,
// each by its own thread on its own pooled connection, so S3's latency
// overlaps with the caller's sending. Memory: at most the current window plus
// kReadAhead windows in flight, (1 + kReadAhead) x kReadWindow bytes (the
// first window may be as long as the caller's read instead).
//
// A read-ahead that failed (after the client's retries) is reported by the
// read that needs its bytes, never earlier; one never needed is dropped.
// Reads elsewhere (a Range request, a seek) drop the read-ahead and fetch
// synchronously. Destroying the reader waits for the fetches in flight (at
// most one GET each, bounded by the client's timeouts), which reference the
// client: the store must outlive its readers, as for any reader.
//
// Not thread-safe (one caller at a time, like every BlobReader).
class S3Reader final : public BlobReader {
 public:
  S3Reader(S3Client& client, std::vector<S3BlobStore::Segment> pieces, uint64_t size,
           std::string commit, Code missing)
      : client_(client),
        pieces_(std::move(pieces)),
        size_(size),
        commit_(std::move(commit)),
        missing_(missing) {}

  uint64_t size() const override { return size_; }
  std::optional<int> native_fd() const override { return std::nullopt; }

  Result<size_t> read_at(uint64_t offset, void* buf, size_t len) override {
    if (offset >= size_ || len == 0) return size_t{0};
    len = static_cast<size_t>(std::min<uint64_t>(len, size_ - offset));
    if (!(offset >= window_start_ && offset < window_start_ + window_.size())) {
      BERTH_RETURN_IF_ERROR(load(offset, len));
    }
    const uint64_t in = offset - window_start_;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(len, window_.size() - in));
    std::memcpy(buf, window_.data() + in, n);
    return n;
  }

  const std::string& commit() const { return commit_; }

 private:
  // Where bytes [start, start + want) are: in `key` from byte `from`.
  struct Span {
    std::string key;
    uint64_t start = 0;
    uint64_t from = 0;
    uint64_t want = 0;
  };
  struct Fetch {
    uint64_t start = 0;
    uint64_t end = 0;
    std::future<Result<std::string>> body;  // its destructor waits for the GET
  };

  // The window at `offset`: at least `len` bytes (at least kReadWindow) when
  // the piece holding `offset` has them, never past that piece's end.
  Result<Span> plan(uint64_t offset, uint64_t len) const {
    auto it = std::upper_bound(
        pieces_.begin(), pieces_.end(), offset,
        [](uint64_t off, const S3BlobStore::Segment& s) { return off < s.offset; });
    if (it == pieces_.begin()) return error(Code::kInternal, "upload segments do not start at 0");
    const S3BlobStore::Segment& piece = *(it - 1);
    const uint64_t piece_end = std::min(piece.offset + piece.size, size_);
    if (offset >= piece_end)
      return error(Code::kInternal, "a segment of the upload is shorter than listed");
    const uint64_t want =
        std::min<uint64_t>(std::max<uint64_t>(len, kReadWindow), piece_end - offset);
    return Span{piece.key, offset, offset - piece.offset, want};
  }

  // Makes the window at `offset` current: from the read-ahead when it holds
  // `offset`, else by a GET now; then tops the read-ahead up when reading on
  // sequentially.
  Status load(uint64_t offset, size_t len) {
    const bool sequential = offset == window_start_ + window_.size();
    while (!ahead_.empty() && !(offset >= ahead_.front().start && offset < ahead_.front().end)) {
      ahead_.pop_front();  // not needed (waits for it)
    }
    std::string body;
    uint64_t start = offset;
    if (!ahead_.empty()) {
      Fetch f = std::move(ahead_.front());
      ahead_.pop_front();
      auto got = f.body.get();
      if (!got) {
        ahead_.clear();
        return got.status();
      }
      body = std::move(got).value();
      start = f.start;
    } else {
      BERTH_ASSIGN_OR_RETURN(Span s, plan(offset, len));
      BERTH_ASSIGN_OR_RETURN(body, get_range(client_, s.key, s.from, s.want, missing_));
    }
    window_ = std::move(body);
    window_start_ = start;
    if (sequential || offset == 0) read_ahead();
    return Status::ok();
  }

  // Starts fetching the windows after the last one held or in flight, up to
  // kReadAhead of them. A window that cannot be planned or started is left
  // to the read that needs it (which then fetches it, or reports why not).
  void read_ahead() {
    uint64_t next = ahead_.empty() ? window_start_ + window_.size() : ahead_.back().end;
    while (ahead_.size() < kReadAhead && next < size_) {
      auto span = plan(next, kReadWindow);
      if (!span) return;
      Fetch f;
      f.start = span->start;
      f.end = span->start + span->want;
      try {
        f.body = std::async(std::launch::async,
                            [&client = client_, s = std::move(span).value(), missing = missing_] {
                              return get_range(client, s.key, s.from, s.want, missing);
                            });
      } catch (const std::system_error&) {
        return;  // no thread to spare: the read that needs the window fetches it
      }
      next = f.end;
      ahead_.push_back(std::move(f));
    }
  }

  S3Client& client_;
  std::vector<S3BlobStore::Segment> pieces_;
  uint64_t size_;
  std::string commit_;
  Code missing_;
  std::string window_;
  uint64_t window_start_ = 0;
  std::deque<Fetch> ahead_;  // by offset, contiguous from the current window's end
};

// Appends in segments of at least kMinPartSize bytes. A full buffer is
// written by a PUT on a thread of its own while the caller goes on appending
// into a fresh buffer: receiving the next part overlaps with storing this
// one. One PUT at most is in flight, and the next starts only after it
// succeeded, so segments are written in order and never leave a gap.
// Memory: two buffers of about kMinPartSize plus one append's length. A
// failed background PUT is reported by the next append or flush, its bytes
// kept (ahead of the ones appended since), so a retried flush writes them
// all. The destructor waits for the PUT in flight. Not thread-safe.
class S3Appender final : public UploadAppender {
 public:
  S3Appender(S3BlobStore& store, std::string prefix, S3BlobStore::UploadListing listing)
      : store_(store), prefix_(std::move(prefix)), end_(listing.size) {
    if (!listing.segments.empty()) last_ = listing.segments.back();
  }

  Status append(const void* data, size_t len) override {
    if (len == 0) return Status::ok();
    buffer_.append(static_cast<const char*>(data), len);
    if (buffer_.size() < kMinPartSize) return Status::ok();
    BERTH_RETURN_IF_ERROR(finish_in_flight());
    in_flight_ = std::move(buffer_);
    buffer_.clear();
    try {
      put_ = std::async(std::launch::async, [this, last = last_, end = end_] {
        return write_out(store_, prefix_, last, end, in_flight_);
      });
    } catch (const std::system_error&) {
      buffer_ = std::move(in_flight_);  // no thread to spare: write it here
      in_flight_.clear();
      return write_buffer();
    }
    return Status::ok();
  }

  Status flush() override {
    BERTH_RETURN_IF_ERROR(finish_in_flight());
    if (buffer_.empty()) return Status::ok();
    return write_buffer();
  }

 private:
  // Writes the buffer on this thread as the next segment; on failure the
  // buffer is kept for a retry.
  Status write_buffer() {
    BERTH_ASSIGN_OR_RETURN(S3BlobStore::Segment s,
                           write_out(store_, prefix_, last_, end_, buffer_));
    last_ = std::move(s);
    end_ += buffer_.size();
    buffer_.clear();
    return Status::ok();
  }

  // Waits for the PUT in flight, if any, and takes its outcome in.
  Status finish_in_flight() {
    if (!put_.valid()) return Status::ok();
    auto written = put_.get();
    if (!written) {
      buffer_.insert(0, in_flight_);
      in_flight_.clear();
      return written.status();
    }
    last_ = std::move(written).value();
    end_ += in_flight_.size();
    in_flight_.clear();
    return Status::ok();
  }

  // Writes `bytes` (appended after byte `end`) as a new segment, or into the
  // last segment while that one is shorter than kMinPartSize; returns the
  // segment that now ends the upload. Changes nothing in the appender, so it
  // may run on another thread.
  static Result<S3BlobStore::Segment> write_out(S3BlobStore& store, const std::string& prefix,
                                                const std::optional<S3BlobStore::Segment>& last,
                                                uint64_t end, const std::string& bytes) {
    S3Client& client = store.client();
    if (last && last->size < kMinPartSize) {
      std::string merged;
      if (last->size > 0) {
        S3Request get;
        get.key = last->key;
        BERTH_ASSIGN_OR_RETURN(S3Response res, client.send(get));
        if (res.status != 200) return s3_status("GET " + last->key, res, Code::kBlobUploadUnknown);
        if (res.body.size() != last->size) {
          return error(Code::kInternal,
                       fmt::format("{} changed under an append (another writer?)", last->key));
        }
        merged = std::move(res.body);
      }
      merged += bytes;
      BERTH_RETURN_IF_ERROR(put(client, last->key, merged));
      S3BlobStore::Segment s = *last;
      s.size = merged.size();
      return s;
    }
    S3BlobStore::Segment s{prefix + "data/" + segment_name(end), end, bytes.size()};
    BERTH_RETURN_IF_ERROR(put(client, s.key, bytes));
    return s;
  }

  static Status put(S3Client& client, const std::string& key, std::string_view body) {
    S3Request req;
    req.method = "PUT";
    req.key = key;
    req.body = body;
    BERTH_ASSIGN_OR_RETURN(S3Response res, client.send(req));
    if (res.status != 200) return s3_status("PUT " + key, res);
    return Status::ok();
  }

  S3BlobStore& store_;
  std::string prefix_;
  uint64_t end_;                                   // the upload's size once in_flight_ is written
  std::optional<S3BlobStore::Segment> last_;       // likewise, its last segment
  std::string buffer_;                             // appended, not yet being written
  std::string in_flight_;                          // being written by put_
  std::future<Result<S3BlobStore::Segment>> put_;  // its destructor waits for the PUT
};

// Runs f(0), ..., f(n - 1) on up to `width` threads (the caller's among
// them) and returns when every call returned.
template <typename F>
void for_each_parallel(size_t n, size_t width, const F& f) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) f(i);
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(width, n); ++t) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads: the ones running take the rest
    }
  }
  work();
  for (auto& t : threads) t.join();
}

}  // namespace

Status s3_status(std::string_view what, const S3Response& res, Code missing) {
  const std::string code = res.error_code();
  if (res.status == 404 && missing != Code::kInternal)
    return error(missing, fmt::format("{}: not found", what));
  if (res.status == 500 || res.status == 502 || res.status == 503 || res.status == 504) {
    return error(Code::kUnavailable, fmt::format("{}: HTTP {} {}", what, res.status, code));
  }
  return error(Code::kInternal, fmt::format("{}: S3 answered HTTP {}{}", what, res.status,
                                            code.empty() ? "" : " " + code));
}

S3BlobStore::S3BlobStore(std::unique_ptr<S3Client> client, S3StoreOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
  prefix_ = options_.prefix.empty() ? std::string() : options_.prefix + "/";
}

Result<std::unique_ptr<S3BlobStore>> S3BlobStore::open(S3StoreOptions options) {
  while (!options.prefix.empty() && options.prefix.back() == '/') options.prefix.pop_back();
  if (!options.prefix.empty() && !is_plain_key(options.prefix)) {
    return error(
        Code::kInvalidArgument,
        fmt::format(
            "storage.s3.prefix '{}': only A-Z a-z 0-9 - _ . ~ and '/' between non-empty segments",
            options.prefix));
  }
  BERTH_ASSIGN_OR_RETURN(auto client, S3Client::create(options.client));
  const auto deadline = options.open_deadline;
  auto store = std::unique_ptr<S3BlobStore>(new S3BlobStore(std::move(client), std::move(options)));
  S3Request head;
  head.method = "HEAD";
  head.head = true;
  auto res = store->client_->send(head, deadline);
  if (!res) {
    // The cause says what went wrong: no connection, a timeout, a refused
    // TLS certificate.
    return error(res.status().code(),
                 fmt::format("S3 bucket '{}' at {}: {}", store->options_.client.bucket,
                             store->options_.client.endpoint, res.status().message()));
  }
  if (res->status == 404) {
    S3Request create;
    create.method = "PUT";
    auto made = store->client_->send(create, deadline);
    if (!made) return made.status();
    if (made->status != 200 && made->error_code() != "BucketAlreadyOwnedByYou") {
      return s3_status(fmt::format("creating S3 bucket '{}'", store->options_.client.bucket),
                       *made);
    }
  } else if (res->status != 200) {
    return error(
        Code::kInternal,
        fmt::format("S3 bucket '{}' at {}: HTTP {} (wrong credentials or no access?)",
                    store->options_.client.bucket, store->options_.client.endpoint, res->status));
  }
  return store;
}

Status S3BlobStore::check_writable(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  const std::string key = prefix_ + "ready-probe";
  S3Request put;
  put.method = "PUT";
  put.key = key;
  put.body = "ok";
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(put, timeout));
  if (res.status != 200) return s3_status("PUT " + key, res);
  S3Request del;
  del.method = "DELETE";
  del.key = key;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      until - std::chrono::steady_clock::now());
  BERTH_ASSIGN_OR_RETURN(res, client_->send(del, std::max(left, std::chrono::milliseconds(1))));
  if (res.status != 204 && res.status != 200) return s3_status("DELETE " + key, res);
  return Status::ok();
}

std::string S3BlobStore::blob_key(const Digest& digest) const {
  return fmt::format("{}blobs/{}/{}", prefix_, digest.algorithm_name(), digest.hex());
}

std::string S3BlobStore::upload_prefix(std::string_view id) const {
  return fmt::format("{}uploads/{}/", prefix_, id);
}

Status S3BlobStore::put_object(const std::string& key, std::string_view body,
                               std::vector<sigv4::HttpHeader> headers) {
  S3Request req;
  req.method = "PUT";
  req.key = key;
  req.body = body;
  req.headers = std::move(headers);
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(req));
  if (res.status != 200) return s3_status("PUT " + key, res);
  return Status::ok();
}

Status S3BlobStore::delete_keys(const std::vector<std::string>& keys, const std::string& except) {
  std::vector<Status> failures(keys.size());
  for_each_parallel(keys.size(), kCommitCopies, [&](size_t i) {
    if (keys[i] != except) failures[i] = delete_key(keys[i]);
  });
  for (Status& failed : failures) {
    if (!failed.is_ok()) return std::move(failed);
  }
  return Status::ok();
}

Status S3BlobStore::delete_key(const std::string& key) {
  S3Request req;
  req.method = "DELETE";
  req.key = key;
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(req));
  if (res.status != 204 && res.status != 200 && res.status != 404)
    return s3_status("DELETE " + key, res);
  return Status::ok();
}

namespace {

struct ListedObject {
  std::string key;
  uint64_t size = 0;
  int64_t modified = 0;
};

struct ListPage {
  std::vector<ListedObject> objects;
  std::vector<std::string> prefixes;
  std::string next_token;
};

Result<ListPage> list_page(S3Client& client, const std::string& prefix,
                           const std::string& start_after, const std::string& token,
                           size_t max_keys, bool delimited) {
  std::string q = "list-type=2&max-keys=" + std::to_string(max_keys) +
                  "&prefix=" + sigv4::percent_encode_unreserved(prefix);
  if (delimited) q += "&delimiter=%2F";
  if (!start_after.empty()) q += "&start-after=" + sigv4::percent_encode_unreserved(start_after);
  if (!token.empty()) q += "&continuation-token=" + sigv4::percent_encode_unreserved(token);
  S3Request req;
  req.query = q;
  BERTH_ASSIGN_OR_RETURN(S3Response res, client.send(req));
  if (res.status != 200) return s3_status("list " + prefix, res);
  ListPage page;
  for (const std::string& block : xml_all(res.body, "Contents")) {
    ListedObject o;
    o.key = xml_first(block, "Key");
    o.size = std::strtoull(xml_first(block, "Size").c_str(), nullptr, 10);
    o.modified = parse_iso8601(xml_first(block, "LastModified"));
    page.objects.push_back(std::move(o));
  }
  for (const std::string& block : xml_all(res.body, "CommonPrefixes"))
    page.prefixes.push_back(xml_first(block, "Prefix"));
  if (xml_first(res.body, "IsTruncated") == "true") {
    page.next_token = xml_first(res.body, "NextContinuationToken");
    if (page.next_token.empty())
      return error(Code::kInternal, "S3 listing truncated without a continuation token");
  }
  return page;
}

}  // namespace

Result<std::vector<std::string>> S3BlobStore::list_keys(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  do {
    BERTH_ASSIGN_OR_RETURN(ListPage page, list_page(*client_, prefix, "", token, 1000, false));
    for (auto& o : page.objects) keys.push_back(std::move(o.key));
    token = page.next_token;
  } while (!token.empty());
  return keys;
}

Result<S3BlobStore::UploadListing> S3BlobStore::list_upload(std::string_view id) {
  const std::string prefix = upload_prefix(id);
  UploadListing out;
  std::string token;
  do {
    BERTH_ASSIGN_OR_RETURN(ListPage page, list_page(*client_, prefix, "", token, 1000, false));
    for (auto& o : page.objects) {
      const std::string_view rest = std::string_view(o.key).substr(prefix.size());
      if (rest == "info") {
        out.exists = true;
        out.modified_at = std::max(out.modified_at, o.modified);
      } else if (rest.rfind("data/", 0) == 0 && rest.size() == 25) {
        Segment s{o.key, std::strtoull(std::string(rest.substr(5)).c_str(), nullptr, 10), o.size};
        out.modified_at = std::max(out.modified_at, o.modified);
        out.segments.push_back(std::move(s));
      }
      out.keys.push_back(std::move(o.key));
    }
    token = page.next_token;
  } while (!token.empty());
  std::sort(out.segments.begin(), out.segments.end(),
            [](const Segment& a, const Segment& b) { return a.offset < b.offset; });
  uint64_t expect = 0;
  for (const Segment& s : out.segments) {
    if (s.offset != expect) {
      return error(Code::kInternal, fmt::format("upload {}: segment at {} where {} was expected",
                                                id, s.offset, expect));
    }
    expect += s.size;
  }
  out.size = expect;
  return out;
}

// --- blobs ---------------------------------------------------------------------------

Result<std::unique_ptr<BlobReader>> S3BlobStore::open(const Digest& digest) {
  const std::string key = blob_key(digest);
  S3Request head;
  head.method = "HEAD";
  head.head = true;
  head.key = key;
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(head));
  if (res.status != 200) return s3_status("HEAD " + key, res, Code::kBlobUnknown);
  const uint64_t size = std::strtoull(res.header("content-length").c_str(), nullptr, 10);
  return std::unique_ptr<BlobReader>(new S3Reader(*client_, {Segment{key, 0, size}}, size,
                                                  res.header(std::string(kCommitHeader)),
                                                  Code::kBlobUnknown));
}

Result<uint64_t> S3BlobStore::stat(const Digest& digest) {
  const std::string key = blob_key(digest);
  S3Request head;
  head.method = "HEAD";
  head.head = true;
  head.key = key;
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(head));
  if (res.status != 200) return s3_status("HEAD " + key, res, Code::kBlobUnknown);
  return static_cast<uint64_t>(std::strtoull(res.header("content-length").c_str(), nullptr, 10));
}

Status S3BlobStore::remove(const Digest& digest) {
  return delete_key(blob_key(digest));
}

Status S3BlobStore::quarantine(const Digest& digest, const BlobReader* checked) {
  const std::string key = blob_key(digest);
  S3Request head;
  head.method = "HEAD";
  head.head = true;
  head.key = key;
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(head));
  if (res.status != 200) return s3_status("HEAD " + key, res, Code::kBlobUnknown);
  if (const auto* reader = dynamic_cast<const S3Reader*>(checked)) {
    // Only the bytes that were found bad go: every commit writes a new token.
    if (reader->commit() != res.header(std::string(kCommitHeader))) {
      return error(Code::kFailedPrecondition, "the blob was replaced since it was checked");
    }
  }
  const std::string dst =
      fmt::format("{}quarantine/{}/{}", prefix_, digest.algorithm_name(), digest.hex());
  S3Request copy;
  copy.method = "PUT";
  copy.key = dst;
  copy.headers.push_back({"x-amz-copy-source", client_->copy_source(key)});
  BERTH_ASSIGN_OR_RETURN(S3Response copied, client_->send(copy));
  if (copied.status != 200 || copied.body.find("<Error>") != std::string::npos) {
    return s3_status("copy " + key + " to quarantine", copied, Code::kBlobUnknown);
  }
  return delete_key(key);
}

Result<std::vector<Digest>> S3BlobStore::list(const std::optional<Digest>& after, size_t limit) {
  if (limit == 0) limit = 1;
  const std::string prefix = prefix_ + "blobs/";
  std::string start_after = after ? blob_key(*after) : std::string();
  std::vector<Digest> out;
  std::string token;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(ListPage page,
                           list_page(*client_, prefix, token.empty() ? start_after : "", token,
                                     limit - out.size(), false));
    for (const auto& o : page.objects) {
      std::string_view rest = std::string_view(o.key).substr(prefix.size());
      size_t slash = rest.find('/');
      if (slash == std::string_view::npos) continue;
      auto d = Digest::parse(fmt::format("{}:{}", rest.substr(0, slash), rest.substr(slash + 1)));
      if (!d || (after && !(*after < *d))) continue;
      out.push_back(std::move(d).value());
    }
    if (out.size() >= limit || page.next_token.empty()) return out;
    token = page.next_token;
  }
}

Result<std::optional<std::string>> S3BlobStore::redirect_url(const Digest& digest,
                                                             std::chrono::seconds ttl) {
  if (!options_.redirect) return std::optional<std::string>();
  BERTH_ASSIGN_OR_RETURN(std::string url, client_->presign_get(blob_key(digest), ttl));
  return std::optional<std::string>(std::move(url));
}

// --- uploads -------------------------------------------------------------------------

Status S3BlobStore::create_upload(std::string_view id) {
  if (!valid_upload_id(id)) return error(Code::kBlobUploadUnknown, "malformed upload id");
  // Conditional: an existing upload (and its bytes) stays as it is.
  S3Request req;
  req.method = "PUT";
  req.key = upload_prefix(id) + "info";
  req.headers = {{"If-None-Match", "*"}};
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(req));
  if (res.status == 412)
    return error(Code::kFailedPrecondition, fmt::format("upload {} exists already", id));
  if (res.status != 200) return s3_status("PUT " + req.key, res);
  return Status::ok();
}

Result<UploadInfo> S3BlobStore::upload_info(std::string_view id) {
  if (!valid_upload_id(id)) return unknown_upload();
  BERTH_ASSIGN_OR_RETURN(UploadListing l, list_upload(id));
  if (!l.exists) return unknown_upload();
  return UploadInfo{std::string(id), l.size, l.modified_at};
}

Result<std::unique_ptr<UploadAppender>> S3BlobStore::append_upload(std::string_view id) {
  if (!valid_upload_id(id)) return unknown_upload();
  BERTH_ASSIGN_OR_RETURN(UploadListing l, list_upload(id));
  if (!l.exists) return unknown_upload();
  return std::unique_ptr<UploadAppender>(new S3Appender(*this, upload_prefix(id), std::move(l)));
}

Result<std::unique_ptr<BlobReader>> S3BlobStore::read_upload(std::string_view id) {
  if (!valid_upload_id(id)) return unknown_upload();
  BERTH_ASSIGN_OR_RETURN(UploadListing l, list_upload(id));
  if (!l.exists) return unknown_upload();
  return std::unique_ptr<BlobReader>(
      new S3Reader(*client_, std::move(l.segments), l.size, "", Code::kBlobUploadUnknown));
}

Status S3BlobStore::save_hash_state(std::string_view id, const SavedHashState& state) {
  if (!valid_upload_id(id)) return unknown_upload();
  const std::string prefix = upload_prefix(id);
  auto exists = [&]() -> Result<bool> {
    S3Request head;
    head.method = "HEAD";
    head.head = true;
    head.key = prefix + "info";
    BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(head));
    if (res.status == 404) return false;
    if (res.status != 200) return s3_status("HEAD " + head.key, res);
    return true;
  };
  BERTH_ASSIGN_OR_RETURN(bool before, exists());
  if (!before) return unknown_upload();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((state.offset >> (8 * i)) & 0xff);
  bytes += state.state;
  BERTH_RETURN_IF_ERROR(put_object(prefix + "hash", bytes));  // one PUT: atomic
  // An abort or commit may have removed the upload meanwhile: leave nothing.
  BERTH_ASSIGN_OR_RETURN(bool after, exists());
  if (!after) {
    (void)delete_key(prefix + "hash");
    return unknown_upload();
  }
  return Status::ok();
}

Result<SavedHashState> S3BlobStore::load_hash_state(std::string_view id) {
  if (!valid_upload_id(id)) return unknown_upload();
  S3Request get;
  get.key = upload_prefix(id) + "hash";
  BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(get));
  if (res.status == 404) return error(Code::kNotFound, "no saved hash state");
  if (res.status != 200) return s3_status("GET " + get.key, res);
  if (res.body.size() < 8) return error(Code::kNotFound, "saved hash state is truncated");
  SavedHashState out;
  for (int i = 0; i < 8; ++i)
    out.offset |= static_cast<uint64_t>(static_cast<unsigned char>(res.body[i])) << (8 * i);
  out.state = res.body.substr(8);
  return out;
}

Status S3BlobStore::commit_upload(std::string_view id, const Digest& digest) {
  if (!valid_upload_id(id)) return unknown_upload();
  BERTH_ASSIGN_OR_RETURN(UploadListing l, list_upload(id));
  if (!l.exists) return unknown_upload();
  const std::string dst = blob_key(digest);
  const std::string token = random_token();
  const std::string prefix = upload_prefix(id);
  if (l.segments.empty()) {
    BERTH_RETURN_IF_ERROR(put_object(dst, "", {{std::string(kCommitHeader), token}}));
  } else if (l.segments.size() == 1) {
    S3Request copy;
    copy.method = "PUT";
    copy.key = dst;
    copy.headers = {{"x-amz-copy-source", client_->copy_source(l.segments[0].key)},
                    {"x-amz-metadata-directive", "REPLACE"},
                    {std::string(kCommitHeader), token}};
    BERTH_ASSIGN_OR_RETURN(S3Response res, client_->send(copy));
    if (res.status != 200 || res.body.find("<Error>") != std::string::npos)
      return s3_status("copy to " + dst, res);
  } else {
    S3Request create;
    create.method = "POST";
    create.key = dst;
    create.query = "uploads=";
    create.headers = {{std::string(kCommitHeader), token}};
    BERTH_ASSIGN_OR_RETURN(S3Response created, client_->send(create));
    if (created.status != 200) return s3_status("CreateMultipartUpload " + dst, created);
    const std::string mpu = xml_first(created.body, "UploadId");
    if (mpu.empty()) return error(Code::kInternal, "CreateMultipartUpload answered no UploadId");
    // Recorded so that an abort (upload expiry) also ends a commit a crash interrupted.
    BERTH_RETURN_IF_ERROR(put_object(prefix + "commit", dst + "\n" + mpu));
    const std::string mpu_query = "uploadId=" + sigv4::percent_encode_unreserved(mpu);
    auto abort_mpu = [&] {
      S3Request abort;
      abort.method = "DELETE";
      abort.key = dst;
      abort.query = mpu_query;
      (void)client_->send(abort);
    };
    // The parts are copied kCommitCopies at a time: each is a copy inside
    // S3, so the gateway's latency, not berth, bounds a serial commit.
    std::vector<std::string> etags(l.segments.size());
    std::vector<Status> failures(l.segments.size());
    for_each_parallel(l.segments.size(), kCommitCopies, [&](size_t i) {
      S3Request part;
      part.method = "PUT";
      part.key = dst;
      part.query = fmt::format("partNumber={}&{}", i + 1, mpu_query);
      part.headers = {{"x-amz-copy-source", client_->copy_source(l.segments[i].key)}};
      auto res = client_->send(part);
      if (!res || res->status != 200 || res->body.find("<Error>") != std::string::npos) {
        failures[i] = res ? s3_status("UploadPartCopy " + dst, *res) : res.status();
        return;
      }
      etags[i] = xml_first(res->body, "ETag");
    });
    for (const Status& failed : failures) {
      if (!failed.is_ok()) {
        abort_mpu();
        return failed;
      }
    }
    std::string complete = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags.size(); ++i) {
      complete +=
          fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags[i]);
    }
    complete += "</CompleteMultipartUpload>";
    S3Request done;
    done.method = "POST";
    done.key = dst;
    done.query = mpu_query;
    done.body = complete;
    auto res = client_->send(done);
    if (!res || res->status != 200 || res->body.find("<Error>") != std::string::npos) {
      // A retried Complete whose first attempt succeeded answers NoSuchUpload:
      // the blob is there with this commit's token.
      if (res && res->error_code() == "NoSuchUpload") {
        S3Request head;
        head.method = "HEAD";
        head.head = true;
        head.key = dst;
        auto h = client_->send(head);
        if (!(h && h->status == 200 && h->header(std::string(kCommitHeader)) == token)) {
          return s3_status("CompleteMultipartUpload " + dst, *res);
        }
      } else {
        abort_mpu();
        return res ? s3_status("CompleteMultipartUpload " + dst, *res) : res.status();
      }
    }
  }
  // The blob is durable in S3; now the upload goes, its marker last so that
  // a crash in between leaves an upload that expiry removes.
  BERTH_RETURN_IF_ERROR(delete_keys(l.keys, prefix + "info"));
  (void)delete_key(prefix + "commit");
  return delete_key(prefix + "info");
}

Status S3BlobStore::abort_upload(std::string_view id) {
  if (!valid_upload_id(id)) return unknown_upload();
  const std::string prefix = upload_prefix(id);
  BERTH_ASSIGN_OR_RETURN(UploadListing l, list_upload(id));
  for (const std::string& key : l.keys) {
    if (key == prefix + "commit") {
      S3Request get;
      get.key = key;
      auto res = client_->send(get);
      if (res && res->status == 200) {
        const size_t nl = res->body.find('\n');
        if (nl != std::string::npos) {
          S3Request abort;
          abort.method = "DELETE";
          abort.key = res->body.substr(0, nl);
          abort.query = "uploadId=" + sigv4::percent_encode_unreserved(res->body.substr(nl + 1));
          if (is_plain_key(abort.key)) (void)client_->send(abort);
        }
      }
    }
  }
  BERTH_RETURN_IF_ERROR(delete_keys(l.keys, prefix + "info"));
  return l.exists ? delete_key(prefix + "info") : Status::ok();
}

Result<std::vector<UploadInfo>> S3BlobStore::list_uploads(const std::optional<std::string>& after,
                                                          size_t limit) {
  if (limit == 0) limit = 1;
  const std::string prefix = prefix_ + "uploads/";
  std::vector<std::string> ids;
  std::string token;
  do {
    BERTH_ASSIGN_OR_RETURN(ListPage page, list_page(*client_, prefix, "", token, 1000, true));
    for (const std::string& p : page.prefixes) {
      if (p.size() <= prefix.size() + 1) continue;
      std::string id = p.substr(prefix.size(), p.size() - prefix.size() - 1);
      if (valid_upload_id(id) && (!after || id > *after)) ids.push_back(std::move(id));
    }
    token = page.next_token;
  } while (!token.empty());
  std::sort(ids.begin(), ids.end());
  std::vector<UploadInfo> out;
  for (const auto& id : ids) {
    auto info = upload_info(id);
    if (!info) {
      if (info.status().code() == Code::kBlobUploadUnknown) continue;  // gone since the listing
      return info.status();
    }
    out.push_back(std::move(info).value());
    if (out.size() == limit) break;
  }
  return out;
}

}  // namespace berth::s3
