// The BlobStore conformance suite against a real S3 service, and what the S3
// store adds: uploads of small chunks that other nodes continue, commits as
// multipart uploads, presigned redirects, retries across a gateway restart.
//
// Runs when BERTH_TEST_S3_ENDPOINT, BERTH_TEST_S3_ACCESS_KEY and
// BERTH_TEST_S3_SECRET_KEY are set (scripts/test.sh starts Ceph's RADOS
// Gateway with tests/infra/ceph-up.sh and sets them; it fails when these tests
// were skipped). Each test works under a fresh random prefix of one bucket.
#include <gtest/gtest.h>

#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "blob/s3/s3_blob_store.h"
#include "s3_test_env.h"

namespace berth::s3 {
namespace {

using namespace berth::s3_test;

class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = s3_options(random_prefix());
    if (!options_) GTEST_SKIP() << "BERTH_TEST_S3_ENDPOINT is not set";
    store_ = open_s3(options_);
    ASSERT_NE(store_, nullptr);
  }
  std::optional<S3StoreOptions> options_;
  std::unique_ptr<S3BlobStore> store_;
};

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

std::string read_all(BlobReader& r) {
  std::string out;
  std::vector<char> buf(1 << 20);
  while (true) {
    auto n = r.read_at(out.size(), buf.data(), buf.size());
    EXPECT_TRUE(n.is_ok()) << n.status().to_string();
    if (!n.is_ok() || *n == 0) return out;
    out.append(buf.data(), *n);
  }
}

// Chunks far below S3's 5 MiB minimum part, each sent by one of two nodes in
// turn (two stores on the same bucket and prefix), become a blob committed as
// a multipart upload of three parts (5 + 5 + 2 MiB).
TEST_F(S3BlobStoreTest, SmallChunksFromTwoNodesCommitAsAMultipartUpload) {
  auto other = open_s3(options_);
  ASSERT_NE(other, nullptr);
  const std::string data = pattern(12 * 1024 * 1024 + 5, 3);
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000001";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  size_t n = 0;
  for (size_t off = 0; off < data.size(); off += 700 * 1024, ++n) {
    BlobStore& node =
        n % 2 == 0 ? static_cast<BlobStore&>(*store_) : static_cast<BlobStore&>(*other);
    auto a = node.append_upload(id);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    const size_t len = std::min<size_t>(700 * 1024, data.size() - off);
    ASSERT_TRUE((*a)->append(data.data() + off, len).is_ok());
    Status st = (*a)->flush();
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    auto info = other->upload_info(id);
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ(info->size, off + len);
  }
  auto up = store_->read_upload(id);
  ASSERT_TRUE(up.is_ok());
  EXPECT_EQ(read_all(**up), data);
  const Digest d = Digest::of(data);
  Status st = other->commit_upload(id, d);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  auto r = store_->open(d);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ((*r)->size(), data.size());
  EXPECT_EQ(read_all(**r), data);
  // A multipart object's ETag ends in "-<parts>": this one had three.
  S3Request head;
  head.method = "HEAD";
  head.head = true;
  head.key = store_->blob_key(d);
  auto res = store_->client().send(head);
  ASSERT_TRUE(res.is_ok());
  EXPECT_NE(res->header("etag").find("-3"), std::string::npos) << res->header("etag");
  // Nothing of the upload is left behind.
  auto uploads = store_->list_uploads();
  ASSERT_TRUE(uploads.is_ok());
  EXPECT_TRUE(uploads->empty());
}

TEST_F(S3BlobStoreTest, AbortRemovesEveryStagedObject) {
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000002";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  const std::string data = pattern(6 * 1024 * 1024, 4);
  {
    auto a = store_->append_upload(id);
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->append(data.data(), data.size()).is_ok());
    ASSERT_TRUE((*a)->append("tail", 4).is_ok());
    ASSERT_TRUE((*a)->flush().is_ok());
  }
  ASSERT_TRUE(store_->save_hash_state(id, SavedHashState{4, "x"}).is_ok());
  ASSERT_TRUE(store_->abort_upload(id).is_ok());
  // Listing the whole prefix directly: no object at all.
  S3Request list;
  list.query = "list-type=2&prefix=" + options_->prefix + "%2F";
  auto res = store_->client().send(list);
  ASSERT_TRUE(res.is_ok());
  EXPECT_EQ(xml_all(res->body, "Key").size(), 0u) << res->body;
}

// With `redirect`, the store hands out a presigned URL that fetches the
// bytes with no credentials, and a tampered one is refused.
TEST_F(S3BlobStoreTest, RedirectUrlIsAPresignedGet) {
  auto o = *options_;
  o.redirect = true;
  auto store = open_s3(o);
  ASSERT_NE(store, nullptr);
  const std::string data = "bytes fetched through a presigned url";
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000003";
  ASSERT_TRUE(store->create_upload(id).is_ok());
  {
    auto a = store->append_upload(id);
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->append(data.data(), data.size()).is_ok());
    ASSERT_TRUE((*a)->flush().is_ok());
  }
  ASSERT_TRUE(store->commit_upload(id, Digest::of(data)).is_ok());
  auto url = store->redirect_url(Digest::of(data), std::chrono::seconds(60));
  ASSERT_TRUE(url.is_ok());
  ASSERT_TRUE(url->has_value());
  auto fetch = [](const std::string& u) {
    std::string cmd = "env -u AWS_CA_BUNDLE curl -s -w '\\n%{http_code}' '" + u + "'";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while (p != nullptr && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (p != nullptr) ::pclose(p);
    return out;
  };
  EXPECT_EQ(fetch(**url), data + "\n200");
  std::string tampered = **url;
  tampered.replace(tampered.find("X-Amz-Expires=60"), 16, "X-Amz-Expires=99");
  EXPECT_NE(fetch(tampered).substr(fetch(tampered).size() - 3), "200");
}

// Retryable failures are retried until the deadline: a commit and a read made
// while radosgw is down (connection refused) succeed once it is back.
TEST_F(S3BlobStoreTest, RetriesWhileTheGatewayRestarts) {
  const char* dir = env("BERTH_TEST_CEPH_DIR");
  if (dir == nullptr)
    GTEST_SKIP() << "BERTH_TEST_CEPH_DIR is not set (tests/infra/ceph-up.sh sets it)";
  const std::string data = pattern(100000, 9);
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000004";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  {
    auto a = store_->append_upload(id);
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->append(data.data(), data.size()).is_ok());
    ASSERT_TRUE((*a)->flush().is_ok());
  }
  const std::string pid_file = std::string(dir) + "/run/client.rgw.a.pid";
  int pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  std::thread restart([dir] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const std::string cmd =
        fmt::format("env -u AWS_CA_BUNDLE CEPH_CONF={}/ceph.conf radosgw -n client.rgw.a", dir);
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  });
  Status st = store_->commit_upload(id, Digest::of(data));
  restart.join();
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  auto r = store_->open(Digest::of(data));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(read_all(**r), data);
}

// Appends `data` to upload `id` in appends of `chunk` bytes, then flushes.
void append_all(BlobStore& store, const std::string& id, const std::string& data, size_t chunk) {
  auto a = store.append_upload(id);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  for (size_t off = 0; off < data.size(); off += chunk) {
    Status st = (*a)->append(data.data() + off, std::min(chunk, data.size() - off));
    ASSERT_TRUE(st.is_ok()) << st.to_string();
  }
  Status st = (*a)->flush();
  ASSERT_TRUE(st.is_ok()) << st.to_string();
}

// Reads [from, size) in reads of `step` bytes.
std::string read_from(BlobReader& r, uint64_t from, size_t step) {
  std::string out;
  std::vector<char> buf(step);
  while (from + out.size() < r.size()) {
    auto n = r.read_at(from + out.size(), buf.data(), buf.size());
    EXPECT_TRUE(n.is_ok()) << n.status().to_string();
    if (!n.is_ok() || *n == 0) break;
    out.append(buf.data(), *n);
  }
  return out;
}

constexpr size_t kMiB = 1024 * 1024;

// Odd-sized reads cross the 4 MiB windows, the read-ahead and the pieces
// (segments of 6, 6 and 1 MiB + 3, written by background PUTs) of an upload
// and of the blob committed from it; a jump back drops the read-ahead and
// reading goes on right from there.
TEST_F(S3BlobStoreTest, ReadsAcrossWindowsAndPiecesWithReadAhead) {
  const std::string data = pattern(13 * kMiB + 3, 11);
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000005";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  append_all(*store_, id, data, 3 * kMiB);
  auto info = store_->upload_info(id);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->size, data.size());
  auto up = store_->read_upload(id);
  ASSERT_TRUE(up.is_ok());
  EXPECT_TRUE(read_from(**up, 0, 999983) == data);
  const uint64_t back = 9 * kMiB + 17;
  EXPECT_TRUE(read_from(**up, back, kMiB) == data.substr(back));
  const Digest d = Digest::of(data);
  Status st = store_->commit_upload(id, d);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  auto r = store_->open(d);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(read_from(**r, 0, kMiB) == data);
  EXPECT_TRUE(read_from(**r, 5, 4 * kMiB - 1) == data.substr(5));
  EXPECT_TRUE(read_from(**r, back, 65536) == data.substr(back));
}

// A window fetched ahead whose GET failed (its piece was deleted before the
// first read) fails the read that needs it, and only that one: the bytes
// before it read fine, and the failure is not passed off as the end.
TEST_F(S3BlobStoreTest, FailedReadAheadIsReportedByTheReadThatNeedsIt) {
  const std::string data = pattern(12 * kMiB, 12);
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000006";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  append_all(*store_, id, data, 6 * kMiB);  // two segments of 6 MiB
  auto up = store_->read_upload(id);
  ASSERT_TRUE(up.is_ok());
  S3Request del;
  del.method = "DELETE";
  del.key = fmt::format("{}/uploads/{}/data/{:020}", options_->prefix, id, 6 * kMiB);
  auto deleted = store_->client().send(del);
  ASSERT_TRUE(deleted.is_ok());
  ASSERT_EQ(deleted->status, 204);
  // The read at 0 fetches [0, 4) MiB and starts [4, 6) and [6, 10) ahead.
  std::vector<char> buf(kMiB);
  uint64_t off = 0;
  for (; off < 6 * kMiB; off += kMiB) {
    auto n = (*up)->read_at(off, buf.data(), buf.size());
    ASSERT_TRUE(n.is_ok()) << "at " << off << ": " << n.status().to_string();
    ASSERT_EQ(*n, kMiB);
    ASSERT_TRUE(std::string_view(buf.data(), kMiB) == std::string_view(data).substr(off, kMiB));
  }
  auto n = (*up)->read_at(off, buf.data(), buf.size());
  ASSERT_FALSE(n.is_ok());
  EXPECT_EQ(n.status().code(), Code::kBlobUploadUnknown) << n.status().to_string();
  // Asked again, it is fetched again, and fails again.
  n = (*up)->read_at(off + 1, buf.data(), buf.size());
  ASSERT_FALSE(n.is_ok());
  EXPECT_EQ(n.status().code(), Code::kBlobUploadUnknown) << n.status().to_string();
}

// A reader dropped right after its first read (its read-ahead still in
// flight) waits for those GETs; the store's client goes on serving.
TEST_F(S3BlobStoreTest, ReaderDestroyedWhileReadingAhead) {
  const std::string data = pattern(14 * kMiB, 13);
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000007";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  append_all(*store_, id, data, kMiB);
  const Digest d = Digest::of(data);
  ASSERT_TRUE(store_->commit_upload(id, d).is_ok());
  for (int i = 0; i < 5; ++i) {
    auto r = store_->open(d);
    ASSERT_TRUE(r.is_ok());
    char c = 0;
    auto n = (*r)->read_at(static_cast<uint64_t>(i), &c, 1);
    ASSERT_TRUE(n.is_ok());
    EXPECT_EQ(c, data[static_cast<size_t>(i)]);
  }
  auto r = store_->open(d);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(read_all(**r) == data);
}

// An append whose segment write (in the background) fails is reported by
// the next call, flush included: here another writer grew the short last
// segment after this appender listed it.
TEST_F(S3BlobStoreTest, FailedBackgroundWriteIsReportedByFlush) {
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000008";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  append_all(*store_, id, pattern(kMiB, 14), kMiB);  // a short last segment
  auto late = store_->append_upload(id);
  ASSERT_TRUE(late.is_ok());
  append_all(*store_, id, pattern(kMiB, 15), kMiB);  // grows it to 2 MiB
  const std::string more = pattern(6 * kMiB, 16);
  Status appended = (*late)->append(more.data(), more.size());
  Status flushed = appended.is_ok() ? (*late)->flush() : appended;
  ASSERT_FALSE(flushed.is_ok());
  EXPECT_EQ(flushed.code(), Code::kInternal) << flushed.to_string();
  auto info = store_->upload_info(id);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->size, 2 * kMiB);
}

// An appender dropped with its background PUT in flight waits for it.
TEST_F(S3BlobStoreTest, AppenderDestroyedWhileWriting) {
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000009";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  const std::string data = pattern(6 * kMiB, 17);
  {
    auto a = store_->append_upload(id);
    ASSERT_TRUE(a.is_ok());
    ASSERT_TRUE((*a)->append(data.data(), data.size()).is_ok());
  }
  auto info = store_->upload_info(id);
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->size, data.size());
  auto up = store_->read_upload(id);
  ASSERT_TRUE(up.is_ok());
  EXPECT_TRUE(read_all(**up) == data);
}

// An endpoint that never answers fails within the open deadline with
// kUnavailable naming the endpoint (what `berth serve` reports).
TEST(S3BlobStoreOpenTest, UnreachableEndpointFailsFastAndSaysWhere) {
  S3StoreOptions o;
  o.client.endpoint = "http://127.0.0.1:9";  // discard: nothing listens
  o.client.bucket = "nowhere";
  o.client.credentials = {"key", "secret-never-shown"};
  o.open_deadline = std::chrono::milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  auto store = S3BlobStore::open(o);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable);
  EXPECT_NE(store.status().message().find("http://127.0.0.1:9"), std::string::npos)
      << store.status().message();
  EXPECT_EQ(store.status().message().find("secret-never-shown"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));  // generous bound
}

// The readiness probe writes and deletes one object under the prefix and
// leaves nothing behind.
TEST_F(S3BlobStoreTest, CheckWritablePutsAndDeletesItsProbe) {
  Status st = store_->check_writable(std::chrono::seconds(5));
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  S3Request list;
  list.query = "list-type=2&prefix=" + options_->prefix + "%2F";
  auto res = store_->client().send(list);
  ASSERT_TRUE(res.is_ok());
  EXPECT_EQ(xml_all(res->body, "Key").size(), 0u) << res->body;
}

// A peer that takes the connection and never answers: a call with a
// deadline returns kUnavailable once it expires, although each step's own
// timeout is far longer (what keeps /readyz from hanging on a hung gateway).
TEST(S3BlobStoreClientTest, DeadlineBoundsEveryStepAgainstAHungPeer) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor hung(
      ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});  // listens, never accepts
  S3ClientOptions o;
  o.endpoint = fmt::format("http://127.0.0.1:{}", hung.local_endpoint().port());
  o.bucket = "hung";
  o.credentials = {"key", "secret"};
  o.io_timeout = std::chrono::minutes(10);
  auto client = S3Client::create(o);
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  S3Request put;
  put.method = "PUT";
  put.key = "ready-probe";
  put.body = "ok";
  const auto start = std::chrono::steady_clock::now();
  auto res = (*client)->send(put, std::chrono::milliseconds(300));
  ASSERT_FALSE(res.is_ok());
  EXPECT_EQ(res.status().code(), Code::kUnavailable) << res.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));  // generous bound
}

// A bracketed IPv6 endpoint: the client connects to the bare address and
// names the endpoint as written, port included, in Host (which SigV4 signs).
// The peer is a one-request HTTP server on [::1].
TEST(S3BlobStoreClientTest, BracketedIpv6EndpointConnectsAndNamesItInHost) {
  boost::asio::io_context ioc;
  boost::system::error_code ec;
  boost::asio::ip::tcp::acceptor peer(ioc);
  const boost::asio::ip::tcp::endpoint at(boost::asio::ip::make_address("::1"), 0);
  peer.open(at.protocol(), ec);
  if (!ec) peer.bind(at, ec);
  if (!ec) peer.listen(1, ec);
  if (ec) GTEST_SKIP() << "no IPv6 loopback here: " << ec.message();
  const unsigned short port = peer.local_endpoint().port();
  std::string seen;
  std::thread serve([&] {
    boost::asio::ip::tcp::socket s(ioc);
    boost::system::error_code e;
    // A client that never connects must fail the test, not hang it.
    pollfd ready{peer.native_handle(), POLLIN, 0};
    if (::poll(&ready, 1, 30000) != 1) return;
    peer.accept(s, e);
    if (e) return;
    char buf[4096];
    while (seen.find("\r\n\r\n") == std::string::npos) {
      size_t n = s.read_some(boost::asio::buffer(buf), e);
      if (e) return;
      seen.append(buf, n);
    }
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(answer), e);
  });
  S3ClientOptions o;
  o.endpoint = fmt::format("http://[::1]:{}", port);
  o.bucket = "six";
  o.credentials = {"key", "secret"};
  auto client = S3Client::create(o);
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  S3Request get;
  get.key = "k";
  auto res = (*client)->send(get, std::chrono::seconds(20));
  serve.join();
  ASSERT_TRUE(res.is_ok()) << res.status().to_string();
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(seen.find(fmt::format("\r\nHost: [::1]:{}\r\n", port)), std::string::npos) << seen;
  EXPECT_EQ(seen.rfind("GET /six/k ", 0), 0u) << seen;
}

// Endpoints that are not http(s)://host[:port] are refused when the client
// is made, each naming the endpoint; an IP address cannot carry a
// virtual-hosted bucket.
TEST(S3BlobStoreClientTest, MalformedEndpointsAreRefused) {
  for (const char* endpoint :
       {"ftp://h:1", "http://", "http://h:1/path", "http://user@h:1", "http://h:1?x=1",
        "http://h:99999", "http://h:", "http://[::1", "h:9000", "http://[::1]:x"}) {
    S3ClientOptions o;
    o.endpoint = endpoint;
    o.bucket = "b";
    o.credentials = {"key", "secret"};
    auto client = S3Client::create(o);
    ASSERT_FALSE(client.is_ok()) << endpoint;
    EXPECT_EQ(client.status().code(), Code::kInvalidArgument) << endpoint;
    EXPECT_NE(client.status().message().find(endpoint), std::string::npos)
        << client.status().to_string();
  }
  for (const char* endpoint : {"http://h", "http://h:9000/", "https://[::1]:9443", "HTTP://h:1"}) {
    S3ClientOptions o;
    o.endpoint = endpoint;
    o.bucket = "b";
    o.credentials = {"key", "secret"};
    EXPECT_TRUE(S3Client::create(o).is_ok()) << endpoint;
  }
  S3ClientOptions virtual_hosted;
  virtual_hosted.endpoint = "http://127.0.0.1:9000";
  virtual_hosted.bucket = "b";
  virtual_hosted.credentials = {"key", "secret"};
  virtual_hosted.path_style = false;
  auto refused = S3Client::create(virtual_hosted);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("virtual-hosted"), std::string::npos)
      << refused.status().to_string();
}

// Over https (ceph-up.sh's TLS port, its throwaway CA in ca_file): small
// chunks committed as a multipart upload, written by background PUTs and
// read back across windows with read-ahead, on pooled TLS connections.
class S3BlobStoreTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = s3_tls_options(random_prefix());
    if (!options_)
      GTEST_SKIP() << "BERTH_TEST_S3_TLS_ENDPOINT or BERTH_TEST_S3_CA_FILE is not set "
                      "(tests/infra/ceph-up.sh sets them)";
    store_ = open_s3(options_);
    ASSERT_NE(store_, nullptr);
  }
  std::optional<S3StoreOptions> options_;
  std::unique_ptr<S3BlobStore> store_;
};

TEST_F(S3BlobStoreTlsTest, MultipartCommitAndRangedReadsOverHttps) {
  const std::string data = pattern(13 * kMiB + 3, 21);
  const std::string id = "6a0e2f4c-0000-4000-8000-000000000010";
  ASSERT_TRUE(store_->create_upload(id).is_ok());
  append_all(*store_, id, data, 3 * kMiB);
  const Digest d = Digest::of(data);
  Status st = store_->commit_upload(id, d);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  S3Request head;
  head.method = "HEAD";
  head.head = true;
  head.key = store_->blob_key(d);
  auto res = store_->client().send(head);
  ASSERT_TRUE(res.is_ok()) << res.status().to_string();
  EXPECT_NE(res->header("etag").find("-3"), std::string::npos) << res->header("etag");
  auto r = store_->open(d);
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(read_from(**r, 0, 999983) == data);
  const uint64_t back = 9 * kMiB + 17;
  EXPECT_TRUE(read_from(**r, back, 65536) == data.substr(back));
  st = store_->check_writable(std::chrono::seconds(5));
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  auto presigned = store_->client().presign_get(store_->blob_key(d), std::chrono::seconds(60));
  ASSERT_TRUE(presigned.is_ok());
  EXPECT_EQ(presigned->rfind(options_->client.endpoint + "/", 0), 0u) << *presigned;
}

// Without the CA (the system's CAs only) the gateway's certificate is
// refused (at once, not retried): kUnavailable naming the endpoint and
// OpenSSL's reason.
TEST_F(S3BlobStoreTlsTest, UntrustedCertificateIsRefused) {
  auto o = *options_;
  o.client.ca_file.clear();
  auto store = S3BlobStore::open(o);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable) << store.status().to_string();
  const std::string& m = store.status().message();
  EXPECT_NE(m.find(o.client.endpoint), std::string::npos) << m;
  EXPECT_NE(m.find("certificate verification failed"), std::string::npos) << m;
}

// The certificate names IP 127.0.0.1 only: reached as "localhost" (the same
// address) it is refused for its name although its CA is trusted.
TEST_F(S3BlobStoreTlsTest, HostNameMismatchIsRefused) {
  auto o = *options_;
  const std::string port = o.client.endpoint.substr(o.client.endpoint.rfind(':') + 1);
  o.client.endpoint = "https://localhost:" + port;
  auto store = S3BlobStore::open(o);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Code::kUnavailable) << store.status().to_string();
  EXPECT_NE(store.status().message().find("hostname mismatch"), std::string::npos)
      << store.status().message();
}

// A ca-file that cannot be loaded, or one given for an http endpoint, is a
// configuration error named at once.
TEST(S3BlobStoreOpenTest, BadCaFileIsRefusedNamingIt) {
  S3StoreOptions o;
  o.client.endpoint = "https://127.0.0.1:9";
  o.client.bucket = "nowhere";
  o.client.credentials = {"key", "secret"};
  o.client.ca_file = "/nonexistent/ca.pem";
  auto store = S3BlobStore::open(o);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Code::kInvalidArgument);
  EXPECT_NE(store.status().message().find("storage.s3.ca-file /nonexistent/ca.pem"),
            std::string::npos)
      << store.status().message();
  o.client.endpoint = "http://127.0.0.1:9";
  store = S3BlobStore::open(o);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), Code::kInvalidArgument);
  EXPECT_NE(store.status().message().find("not https://"), std::string::npos)
      << store.status().message();
}

}  // namespace
}  // namespace berth::s3
