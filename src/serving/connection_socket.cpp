#include "serving/connection_socket.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <filesystem>

namespace tern {
namespace {

// The numeric host and port of a socket address, formatted as httplib formats them.
bool same_address(const sockaddr_storage& address, socklen_t length, const std::string& host, int port) {
  char name[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, name, sizeof name, service, sizeof service,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  return std::to_string(port) == service && host == name;
}

bool socket_matches(int fd, const ConnectionAddresses& a) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;  // not a socket
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6) return false;
  if (!same_address(address, length, a.local_addr, a.local_port)) return false;
  length = sizeof address;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;  // not connected
  return same_address(address, length, a.remote_addr, a.remote_port);
}

}  // namespace

std::optional<ConnectionSocket> ConnectionSocket::find(const ConnectionAddresses& addresses) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{}) continue;
    if (socket_matches(fd, addresses)) return ConnectionSocket(fd);
  }
  return std::nullopt;
}

bool ConnectionSocket::peer_gone() const {
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;
  if (n == 0) return true;  // end of stream: the peer closed
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void ConnectionSocket::stop_reading() const { ::shutdown(fd_, SHUT_RD); }

}  // namespace tern
