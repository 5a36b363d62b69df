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
// Built by scripts/bench.sh with the system compiler; needs nothing but Linux and the C++ library.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    else
      return false;
  }
  return argc % 2 == 1 && opt.port > 0 && !opt.path.empty() && opt.connections > 0 &&
         opt.threads > 0 && opt.seconds > 0 && opt.seconds <= 600 &&
         (opt.method == "GET" || opt.method == "HEAD");
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse_args(argc, argv, opt)) {
    std::fprintf(
        stderr,
        "usage: %s --port P --path PATH [--method GET|HEAD] [--connections N] [--threads N] "
        "[--seconds S]\n",
        argv[0]);
    return 2;
  }
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
