// A closed-loop HTTP/1.1 keep-alive load generator for one URL, for the HEAD half of the
// manifest workload in tests/bench/bench.py: wrk 4.1 cannot measure HEAD, because its parser
// waits for the Content-Length bytes a HEAD response announces but never sends. Also run for GET,
// so its figures can be checked against wrk's.
//
//   berth_loadgen --port P --path /v2/... [--method GET|HEAD] [--connections 64] [--threads 2]
//                 [--seconds 10]
//
// Headers come from the environment, as for the wrk script, so that no secret is on a command
// line: BENCH_AUTHORIZATION (optional) and BENCH_ACCEPT. Each connection keeps one request in
// flight; a response is complete at its blank line (HEAD) or after Content-Length body bytes (GET).
// Prints one line, `BENCH_RESULT {json}`, with the same keys as tests/bench/manifest.lua.
//
// Image-push mode, for the small-image push of bench.py (where a Python client was the limit):
//
//   berth_loadgen --mode push --port P --repo R --images N [--tag-prefix img-]
//                 [--single-post 0|1] [--connections 8] [--threads 2] [--seconds 120]
//
// Every image is a unique 1 KiB layer, a unique config (JSON naming the layer's digest) and an
// OCI manifest, all made before the clock starts. Per image, one connection pushes the layer,
// then the config, each as POST + PUT ?digest= with the body (or, with --single-post 1, as one
// POST ?digest= with the body, for a server that completes an upload that way), then PUTs the
// manifest under tag <prefix><index, 4 digits>. A connection takes the next image when its last
// one is done, until all N are pushed; --seconds bounds the run. Any status other than the
// protocol's (202 for POST, 201 for the PUTs and the single POST) counts in errors_status, the
// image is abandoned and its first such answer goes to stderr. Prints `BENCH_RESULT {json}`
// with images, images_s, per-image latency percentiles and the client's own CPU (user + system,
// getrusage) as a share of one core over the run.
//
// Built by scripts/bench.sh with the system compiler; needs nothing but Linux and the C++ library
// (SHA-256 is implemented below, so that it needs no OpenSSL headers).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::string path;
  std::string method = "GET";
  int connections = 64;
  int threads = 2;
  double seconds = 10;
  // --mode push
  std::string mode = "load";
  std::string repo;
  std::string tag_prefix = "img-";
  int images = 0;
  bool single_post = false;
};

struct Stats {
  std::vector<uint32_t> latencies_us;
  uint64_t bytes = 0;
  uint64_t errors_connect = 0, errors_read = 0, errors_write = 0, errors_status = 0;
};

struct Connection {
  int fd = -1;
  std::string in;
  size_t sent = 0;
  Clock::time_point started;
};

bool ieq_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

// The length of the first response in `in`, or -1 while it is incomplete; sets `status`, and
// `bad` when `in` is not an HTTP/1.1 response berth_loadgen can frame.
long response_length(const std::string& in, bool head, int& status, bool& bad) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return -1;
  std::string_view headers(in.data(), end);
  if (headers.size() < 12 || headers.substr(0, 5) != "HTTP/") {
    bad = true;
    return -1;
  }
  status = std::atoi(std::string(headers.substr(9, 3)).c_str());
  long body = 0;
  size_t pos = headers.find("\r\n");
  while (pos != std::string_view::npos) {
    size_t next = headers.find("\r\n", pos + 2);
    std::string_view line = headers.substr(
        pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    if (ieq_prefix(line, "content-length:")) body = std::atol(std::string(line.substr(15)).c_str());
    if (ieq_prefix(line, "transfer-encoding:")) bad = true;  // not expected from either registry
    pos = next;
  }
  long total = static_cast<long>(end + 4) + (head ? 0 : body);
  return static_cast<long>(in.size()) >= total ? total : -1;
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void run_thread(const Options& opt, const std::string& request, int connections,
                Clock::time_point stop, Stats& stats) {
  const bool head = opt.method == "HEAD";
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<Connection> conns(static_cast<size_t>(connections));
  auto open = [&](size_t i) {
    Connection& c = conns[i];
    if (c.fd >= 0) {
      ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c = Connection{};
    c.fd = connect_to(opt.port);
    if (c.fd < 0) {
      ++stats.errors_connect;
      return;
    }
    c.started = Clock::now();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  };
  // Sends what the socket takes of the request; waits for writability only when it is full.
  // False when the connection failed (and was replaced).
  auto send_some = [&](size_t i) -> bool {
    Connection& c = conns[i];
    ssize_t w = ::send(c.fd, request.data() + c.sent, request.size() - c.sent, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) {
      ++stats.errors_write;
      open(i);
      return false;
    }
    if (w > 0) c.sent += static_cast<size_t>(w);
    epoll_event ev{};
    ev.events = c.sent == request.size() ? EPOLLIN : EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    return true;
  };
  for (size_t i = 0; i < conns.size(); ++i) open(i);

  std::vector<epoll_event> events(conns.size());
  char buf[64 * 1024];
  while (Clock::now() < stop) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      size_t i = events[e].data.u64;
      Connection& c = conns[i];
      if (c.fd < 0) continue;
      if (c.sent < request.size() && (events[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        if (!send_some(i)) continue;
      }
      if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) {
        ++stats.errors_read;  // the server closed a keep-alive connection or it failed
        open(i);
        continue;
      }
      stats.bytes += static_cast<uint64_t>(r);
      c.in.append(buf, static_cast<size_t>(r));
      int status = 0;
      bool bad = false;
      long len = response_length(c.in, head, status, bad);
      if (bad) {
        ++stats.errors_read;
        open(i);
        continue;
      }
      if (len < 0) continue;
      auto now = Clock::now();
      stats.latencies_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count()));
      if (status < 200 || status > 299) ++stats.errors_status;
      c.in.erase(0, static_cast<size_t>(len));
      // The next request on the same connection, at once.
      c.sent = 0;
      c.started = now;
      send_some(i);
    }
  }
  for (Connection& c : conns) {
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(ep);
}

// --- image-push mode -----------------------------------------------------------------------

// SHA-256 (FIPS 180-4), for the digests of the images this tool makes.
class Sha256 {
 public:
  static std::string hex(std::string_view data) {
    Sha256 h;
    h.update(reinterpret_cast<const unsigned char*>(data.data()), data.size());
    unsigned char out[32];
    h.finish(out);
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned char b : out) {
      s += digits[b >> 4];
      s += digits[b & 15];
    }
    return s;
  }

 private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void block(const unsigned char* p) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = static_cast<uint32_t>(p[4 * i]) << 24 | static_cast<uint32_t>(p[4 * i + 1]) << 16 |
             static_cast<uint32_t>(p[4 * i + 2]) << 8 | static_cast<uint32_t>(p[4 * i + 3]);
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 =
          h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }
  void update(const unsigned char* p, size_t n) {
    total_ += n;
    while (n > 0) {
      size_t take = std::min(n, 64 - used_);
      std::memcpy(buf_ + used_, p, take);
      used_ += take;
      p += take;
      n -= take;
      if (used_ == 64) {
        block(buf_);
        used_ = 0;
      }
    }
  }
  void finish(unsigned char out[32]) {
    uint64_t bits = total_ * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (used_ < 56 ? 56 : 120) - used_;
    update(pad, padlen);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(len, 8);
    for (int i = 0; i < 8; ++i) {
      out[4 * i] = static_cast<unsigned char>(h_[i] >> 24);
      out[4 * i + 1] = static_cast<unsigned char>(h_[i] >> 16);
      out[4 * i + 2] = static_cast<unsigned char>(h_[i] >> 8);
      out[4 * i + 3] = static_cast<unsigned char>(h_[i]);
    }
  }
  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char buf_[64] = {};
  size_t used_ = 0;
  uint64_t total_ = 0;
};

struct PushBlob {
  std::string digest;  // sha256:<hex>
  std::string data;
};

struct PushImage {
  std::string tag;
  PushBlob layer, config;
  std::string manifest, manifest_digest;
};

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";

PushImage make_image(const std::string& tag, uint64_t seed) {
  PushImage img;
  img.tag = tag;
  // 1 KiB that no other image of this run (nor of another run: `seed`) shares.
  uint64_t x = seed ^ 0x9e3779b97f4a7c15ULL;
  img.layer.data.resize(1024);
  for (size_t i = 0; i < 1024; i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(&img.layer.data[i], &x, 8);
  }
  std::string stamp = tag + "@" + std::to_string(seed);
  std::memcpy(img.layer.data.data(), stamp.data(), std::min<size_t>(stamp.size(), 1024));
  img.layer.digest = "sha256:" + Sha256::hex(img.layer.data);
  img.config.data =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"bench\":\"" + tag +
      "\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + img.layer.digest + "\"]}}";
  img.config.digest = "sha256:" + Sha256::hex(img.config.data);
  img.manifest = std::string("{\"schemaVersion\":2,\"mediaType\":\"") + kOciManifest +
                 "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                 "\"digest\":\"" +
                 img.config.digest + "\",\"size\":" + std::to_string(img.config.data.size()) +
                 "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                 "\"digest\":\"" +
                 img.layer.digest + "\",\"size\":" + std::to_string(img.layer.data.size()) + "}]}";
  img.manifest_digest = "sha256:" + Sha256::hex(img.manifest);
  return img;
}

// The value of header `name` (lower case, with the colon) in the response head `in`, or "".
std::string header_value(const std::string& in, std::string_view name) {
  size_t end = in.find("\r\n\r\n");
  size_t pos = in.find("\r\n");
  while (pos != std::string::npos && pos < end) {
    size_t next = in.find("\r\n", pos + 2);
    std::string_view line(in.data() + pos + 2, next - pos - 2);
    if (ieq_prefix(line, name)) {
      line.remove_prefix(name.size());
      while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      return std::string(line);
    }
    pos = next;
  }
  return "";
}

// What one step of an image push sends, and the status that completes it.
enum class Step { kPost, kPut, kSinglePost, kManifest };

struct PushShared {
  const Options& opt;
  const std::vector<PushImage>& images;
  std::string common_headers;  // Host, User-Agent, Authorization
  std::atomic<int> next{0};
  std::atomic<uint64_t> pushed{0};
  std::mutex mu;  // guards first_error
  std::string first_error;
};

struct PushStats {
  std::vector<uint32_t> latencies_us;  // per image pushed
  uint64_t requests = 0;
  uint64_t errors_connect = 0, errors_read = 0, errors_write = 0, errors_status = 0;
};

struct PushConn {
  int fd = -1;
  std::string in, out;
  size_t sent = 0;
  int image = -1;
  size_t step = 0;
  std::string location;  // of the open upload session
  Clock::time_point started;
};

void run_push_thread(PushShared& shared, int connections, Clock::time_point stop,
                     PushStats& stats) {
  const Options& opt = shared.opt;
  const std::vector<Step> steps =
      opt.single_post
          ? std::vector<Step>{Step::kSinglePost, Step::kSinglePost, Step::kManifest}
          : std::vector<Step>{Step::kPost, Step::kPut, Step::kPost, Step::kPut, Step::kManifest};
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<PushConn> conns(static_cast<size_t>(connections));
  int live = 0;  // connections with an image in flight

  auto build = [&](PushConn& c) {
    const PushImage& img = shared.images[static_cast<size_t>(c.image)];
    const PushBlob& blob = c.step < steps.size() / 2 ? img.layer : img.config;
    const std::string uploads = "/v2/" + opt.repo + "/blobs/uploads/";
    const std::string qdigest = "digest=sha256%3A" + blob.digest.substr(7);
    std::string line, type;
    const std::string* body = nullptr;
    switch (steps[c.step]) {
      case Step::kPost:
        line = "POST " + uploads;
        break;
      case Step::kSinglePost:
        line = "POST " + uploads + "?" + qdigest;
        body = &blob.data;
        type = "application/octet-stream";
        break;
      case Step::kPut:
        line =
            "PUT " + c.location + (c.location.find('?') == std::string::npos ? "?" : "&") + qdigest;
        body = &blob.data;
        type = "application/octet-stream";
        break;
      case Step::kManifest:
        line = "PUT /v2/" + opt.repo + "/manifests/" + img.tag;
        body = &img.manifest;
        type = kOciManifest;
        break;
    }
    c.out = line + " HTTP/1.1\r\n" + shared.common_headers;
    if (!type.empty()) c.out += "Content-Type: " + type + "\r\n";
    c.out += "Content-Length: " + std::to_string(body ? body->size() : 0) + "\r\n\r\n";
    if (body) c.out += *body;
    c.sent = 0;
  };
  auto want = [&](size_t i, PushConn& c) {
    epoll_event ev{};
    ev.events = c.sent == c.out.size() ? EPOLLIN : EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  };
  // Starts the next image on connection i, if any is left.
  auto next_image = [&](size_t i) {
    PushConn& c = conns[i];
    int n = shared.next.fetch_add(1);
    if (n >= static_cast<int>(shared.images.size())) {
      if (c.image >= 0) --live;
      c.image = -1;
      return;
    }
    if (c.image < 0) ++live;
    c.image = n;
    c.step = 0;
    c.started = Clock::now();
    build(c);
  };
  auto send_some = [&](size_t i) -> bool {
    PushConn& c = conns[i];
    ssize_t w = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) return false;
    if (w > 0) c.sent += static_cast<size_t>(w);
    want(i, c);
    return true;
  };
  auto open = [&](size_t i) -> bool {
    PushConn& c = conns[i];
    if (c.fd >= 0) {
      ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c.fd = connect_to(opt.port);
    c.in.clear();
    if (c.fd < 0) {
      ++stats.errors_connect;
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  };
  auto fail = [&](size_t i, const std::string& what) {
    {
      std::lock_guard lock(shared.mu);
      if (shared.first_error.empty()) shared.first_error = what;
    }
    next_image(i);  // this image is abandoned
  };

  for (size_t i = 0; i < conns.size(); ++i) {
    if (open(i)) next_image(i);
  }
  std::vector<epoll_event> events(conns.size());
  char buf[64 * 1024];
  while (live > 0 && Clock::now() < stop) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      size_t i = events[e].data.u64;
      PushConn& c = conns[i];
      if (c.fd < 0 || c.image < 0) continue;
      if (c.sent < c.out.size() && (events[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        if (!send_some(i)) {
          ++stats.errors_write;
          fail(i, "send failed");
          if (open(i) && c.image >= 0) send_some(i);
          continue;
        }
      }
      if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) {
        ++stats.errors_read;
        fail(i, "the server closed the connection");
        if (open(i) && c.image >= 0) send_some(i);
        continue;
      }
      c.in.append(buf, static_cast<size_t>(r));
      int status = 0;
      bool bad = false;
      long len = response_length(c.in, false, status, bad);
      if (bad) {
        ++stats.errors_read;
        fail(i, "an unframeable response");
        if (open(i) && c.image >= 0) send_some(i);
        continue;
      }
      if (len < 0) continue;
      ++stats.requests;
      const Step step = steps[c.step];
      const int expected = step == Step::kPost ? 202 : 201;
      std::string location = step == Step::kPost ? header_value(c.in, "location:") : "";
      c.in.erase(0, static_cast<size_t>(len));
      if (status != expected || (step == Step::kPost && location.empty())) {
        ++stats.errors_status;
        fail(i, c.out.substr(0, c.out.find("\r\n")) + ": expected " + std::to_string(expected) +
                    ", got " + std::to_string(status));
        if (c.image >= 0) send_some(i);
        continue;
      }
      if (step == Step::kPost) {
        // An absolute URL (Distribution) or a path (berth): the request line wants the path.
        if (location.rfind("http", 0) == 0) {
          size_t slash = location.find('/', location.find("//") + 2);
          location = slash == std::string::npos ? "/" : location.substr(slash);
        }
        c.location = std::move(location);
      }
      if (++c.step == steps.size()) {
        auto now = Clock::now();
        stats.latencies_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count()));
        shared.pushed.fetch_add(1);
        next_image(i);
      } else {
        build(c);
      }
      if (c.image >= 0) send_some(i);
    }
  }
  for (PushConn& c : conns) {
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(ep);
}

double cpu_seconds_self() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int run_push(const Options& opt) {
  std::random_device rd;
  const uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  std::vector<PushImage> images;
  images.reserve(static_cast<size_t>(opt.images));
  for (int i = 0; i < opt.images; ++i) {
    char tag[32];
    std::snprintf(tag, sizeof tag, "%04d", i);
    images.push_back(make_image(opt.tag_prefix + tag, seed + static_cast<uint64_t>(i)));
  }
  PushShared shared{opt, images, {}, {0}, {0}, {}, {}};
  shared.common_headers =
      "Host: 127.0.0.1:" + std::to_string(opt.port) + "\r\nUser-Agent: berth-loadgen\r\n";
  if (const char* auth = std::getenv("BENCH_AUTHORIZATION"); auth && *auth) {
    shared.common_headers += std::string("Authorization: ") + auth + "\r\n";
  }
  const int threads = std::min(opt.threads, opt.connections);
  std::vector<PushStats> stats(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  const double cpu0 = cpu_seconds_self();
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(opt.seconds));
  for (int t = 0; t < threads; ++t) {
    int share = opt.connections / threads + (t < opt.connections % threads ? 1 : 0);
    pool.emplace_back(run_push_thread, std::ref(shared), share, stop, std::ref(stats[t]));
  }
  for (auto& th : pool) th.join();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds_self() - cpu0;

  PushStats all;
  for (PushStats& s : stats) {
    all.latencies_us.insert(all.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
    all.requests += s.requests;
    all.errors_connect += s.errors_connect;
    all.errors_read += s.errors_read;
    all.errors_write += s.errors_write;
    all.errors_status += s.errors_status;
  }
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  auto pct = [&](double p) -> uint32_t {
    if (all.latencies_us.empty()) return 0;
    return all.latencies_us[static_cast<size_t>(
        p / 100.0 * static_cast<double>(all.latencies_us.size() - 1) + 0.5)];
  };
  const uint64_t unfinished = images.size() - all.latencies_us.size();
  if (!shared.first_error.empty())
    std::fprintf(stderr, "first error: %s\n", shared.first_error.c_str());
  std::printf(
      "BENCH_RESULT {\"images\":%zu,\"unfinished\":%llu,\"requests\":%llu,\"duration_us\":%.0f,"
      "\"images_s\":%.1f,\"client_cpu_pct\":%.1f,\"errors_connect\":%llu,\"errors_read\":%llu,"
      "\"errors_write\":%llu,\"errors_status\":%llu,\"latency_p50_us\":%u,\"latency_p99_us\":%u,"
      "\"latency_max_us\":%u,\"first_tag\":\"%s\",\"first_manifest_digest\":\"%s\"}\n",
      all.latencies_us.size(), static_cast<unsigned long long>(unfinished),
      static_cast<unsigned long long>(all.requests), elapsed_s * 1e6,
      static_cast<double>(all.latencies_us.size()) / elapsed_s, 100.0 * cpu / elapsed_s,
      static_cast<unsigned long long>(all.errors_connect),
      static_cast<unsigned long long>(all.errors_read),
      static_cast<unsigned long long>(all.errors_write),
      static_cast<unsigned long long>(all.errors_status), pct(50), pct(99),
      all.latencies_us.empty() ? 0 : all.latencies_us.back(),
      images.empty() ? "" : images[0].tag.c_str(),
      images.empty() ? "" : images[0].manifest_digest.c_str());
  return 0;
}

bool parse_args(int argc, char** argv, Options& opt) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port")
      opt.port = std::atoi(v);
    else if (k == "--path")
      opt.path = v;
    else if (k == "--method")
      opt.method = v;
    else if (k == "--connections")
      opt.connections = std::atoi(v);
    else if (k == "--threads")
      opt.threads = std::atoi(v);
    else if (k == "--seconds")
      opt.seconds = std::atof(v);
    else if (k == "--mode")
      opt.mode = v;
    else if (k == "--repo")
      opt.repo = v;
    else if (k == "--tag-prefix")
      opt.tag_prefix = v;
    else if (k == "--images")
      opt.images = std::atoi(v);
    else if (k == "--single-post")
      opt.single_post = std::string_view(v) == "1";
    else
      return false;
  }
  if (opt.mode == "push") {
    return argc % 2 == 1 && opt.port > 0 && !opt.repo.empty() && opt.images > 0 &&
           opt.images <= 1000000 && opt.connections > 0 && opt.threads > 0 && opt.seconds > 0 &&
           opt.seconds <= 600;
  }
  return argc % 2 == 1 && opt.mode == "load" && opt.port > 0 && !opt.path.empty() &&
         opt.connections > 0 && opt.threads > 0 && opt.seconds > 0 && opt.seconds <= 600 &&
         (opt.method == "GET" || opt.method == "HEAD");
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse_args(argc, argv, opt)) {
    std::fprintf(
        stderr,
        "usage: %s --port P --path PATH [--method GET|HEAD] [--connections N] [--threads N] "
        "[--seconds S]\n"
        "       %s --mode push --port P --repo R --images N [--tag-prefix T] [--single-post 0|1] "
        "[--connections N] [--threads N] [--seconds S]\n",
        argv[0], argv[0]);
    return 2;
  }
  if (opt.mode == "push") return run_push(opt);
  std::string request = opt.method + " " + opt.path +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(opt.port) +
                        "\r\nUser-Agent: berth-loadgen\r\n";
  if (const char* accept = std::getenv("BENCH_ACCEPT"); accept && *accept) {
    request += std::string("Accept: ") + accept + "\r\n";
  }
  if (const char* auth = std::getenv("BENCH_AUTHORIZATION"); auth && *auth) {
    request += std::string("Authorization: ") + auth + "\r\n";
  }
  request += "\r\n";

  opt.threads = std::min(opt.threads, opt.connections);
  std::vector<Stats> stats(static_cast<size_t>(opt.threads));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  auto stop = start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(opt.seconds));
  for (int t = 0; t < opt.threads; ++t) {
    int share = opt.connections / opt.threads + (t < opt.connections % opt.threads ? 1 : 0);
    threads.emplace_back(run_thread, std::cref(opt), std::cref(request), share, stop,
                         std::ref(stats[t]));
  }
  for (auto& th : threads) th.join();
  double elapsed_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();

  Stats all;
  for (Stats& s : stats) {
    all.latencies_us.insert(all.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
    all.bytes += s.bytes;
    all.errors_connect += s.errors_connect;
    all.errors_read += s.errors_read;
    all.errors_write += s.errors_write;
    all.errors_status += s.errors_status;
  }
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  auto pct = [&](double p) -> uint32_t {
    if (all.latencies_us.empty()) return 0;
    size_t idx =
        static_cast<size_t>(p / 100.0 * static_cast<double>(all.latencies_us.size() - 1) + 0.5);
    return all.latencies_us[idx];
  };
  double mean = 0;
  for (uint32_t l : all.latencies_us) mean += l;
  if (!all.latencies_us.empty()) mean /= static_cast<double>(all.latencies_us.size());
  std::printf(
      "BENCH_RESULT {\"requests\":%zu,\"duration_us\":%.0f,\"bytes\":%llu,\"errors_connect\":%llu,"
      "\"errors_read\":%llu,\"errors_write\":%llu,\"errors_status\":%llu,\"errors_timeout\":0,"
      "\"latency_mean_us\":%.1f,\"latency_p50_us\":%u,\"latency_p90_us\":%u,\"latency_p99_us\":%u,"
      "\"latency_max_us\":%u}\n",
      all.latencies_us.size(), elapsed_us, static_cast<unsigned long long>(all.bytes),
      static_cast<unsigned long long>(all.errors_connect),
      static_cast<unsigned long long>(all.errors_read),
      static_cast<unsigned long long>(all.errors_write),
      static_cast<unsigned long long>(all.errors_status), mean, pct(50), pct(90), pct(99),
      all.latencies_us.empty() ? 0 : all.latencies_us.back());
  return 0;
}
