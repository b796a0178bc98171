#pragma once
// What the server tests share: a server on a free 127.0.0.1 port, cpp-httplib clients,
// /metrics readings and a raw socket for what a well-behaved client never does. Every
// request is bounded (small max_tokens on tern-kjv, a 256-token model; client timeouts)
// and all traffic stays on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tern/server.h"
#include "test_support.h"

namespace tern::testing {

// A server answering on a free loopback port for the life of the object.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options = {}) {
    std::signal(SIGPIPE, SIG_IGN);  // as `tern serve` does: a closed connection fails a write
    options.port = 0;
    options.n_ctx = 256;
    server_ = std::make_unique<Server>(shipped_model(), options);
    thread_ = std::thread([this] { server_->serve(); });
  }
  ~RunningServer() {
    server_->shutdown();
    thread_.join();
  }
  Server& server() { return *server_; }
  int port() const { return server_->port(); }
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    c->set_read_timeout(120, 0);
    c->set_connection_timeout(10, 0);
    return c;
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

inline httplib::Result post(const RunningServer& s, const std::string& path, const nlohmann::json& body,
                            const httplib::Headers& headers = {}) {
  return s.client()->Post(path.c_str(), headers, body.dump(), "application/json");
}

// A streaming POST to `path`; the caller sets its content_receiver.
inline httplib::Request streaming_request(const std::string& path, const nlohmann::json& body) {
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.set_header("Content-Type", "application/json");
  req.body = body.dump();
  return req;
}

// One value of the server's /metrics; -1 when it cannot be read.
inline double metric(const RunningServer& s, const std::string& name) {
  const auto r = s.client()->Get("/metrics");
  if (!r || r->status != 200) return -1;
  const std::string key = "\n" + name + " ";
  const size_t at = r->body.find(key);
  return at == std::string::npos ? -1 : std::stod(r->body.substr(at + key.size()));
}

// Polls `condition` every few milliseconds until it holds (true) or `limit` passes.
inline bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A TCP connection to 127.0.0.1:port driven byte by byte.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& bytes) const {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // What arrives until the server closes the connection or `limit` passes; `closed`
  // says which.
  std::string read_until_closed(std::chrono::milliseconds limit, bool& closed) const {
    std::string got;
    closed = false;
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return got;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed = true;
        return got;
      }
      got.append(buffer, static_cast<size_t>(n));
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// An HTTP/1.1 POST of a JSON body, as bytes (the connection stays open by default).
inline std::string http_post(const std::string& path, const nlohmann::json& body) {
  const std::string text = body.dump();
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(text.size()) + "\r\n\r\n" + text;
}

}  // namespace tern::testing
