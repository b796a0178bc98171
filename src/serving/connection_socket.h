#pragma once
// cpp-httplib 0.11 gives a request handler no way to see its connection, yet a
// non-streaming answer takes as long as its generation, and a client that gives up
// meanwhile must free its slot; and a refused connection must be closed after its 503,
// which httplib (keeping connections alive) would not do. ConnectionSocket finds the
// request's socket by its two addresses (unique among open connections).
#include <optional>
#include <string>

namespace tern {

struct ConnectionAddresses {
  std::string local_addr;  // numeric, as httplib::Request's local_addr / remote_addr
  int local_port = -1;
  std::string remote_addr;
  int remote_port = -1;
};

class ConnectionSocket {
 public:
  // The open socket of this process with these addresses; nullopt when there is none.
  static std::optional<ConnectionSocket> find(const ConnectionAddresses& addresses);

  // True once the peer closed or reset the connection. A half-close (the peer shut its
  // sending side) counts too: an HTTP client waiting for its answer does not do that.
  // Bytes the peer sent after its request (a pipelined one) read as "still there".
  bool peer_gone() const;
  // Reads nothing more from the peer: httplib sees the end of the stream after the
  // answer it is writing and closes the connection.
  void stop_reading() const;

 private:
  explicit ConnectionSocket(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace tern
