// Works around a bug of Debian's CAF 0.17.6 (libcaf_openssl): it never clears OpenSSL's per-thread error
// queue, and drains it only inside log statements that Debian's build compiles out. When one cluster link
// ends without a TLS close_notify (a killed node), OpenSSL 3 leaves "unexpected eof while reading" on the
// queue of the middleman's thread; the next SSL_get_error on any other, healthy link of that thread then
// reports SSL_ERROR_SSL, and CAF closes that link too. Seen as two surviving nodes losing each other a
// heartbeat after a third was killed (docs/architecture.md, "Cluster").
//
// These definitions take the place of OpenSSL's for the whole process (libcaf_openssl resolves them here)
// and, on CAF's threads, empty the queue before each call, as OpenSSL requires. Boost.Asio's TLS streams, on
// the node's I/O threads, empty it themselves: clearing it twice there cost TLS throughput.

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>

#include <cstring>

namespace {

template <class Function>
Function real(const char* name) {
  return reinterpret_cast<Function>(dlsym(RTLD_NEXT, name));
}

// CAF names its threads "caf.*" (the middleman's multiplexer among them); looked up once per thread.
bool on_a_caf_thread() {
  thread_local const bool caf = [] {
    char name[16] = {};
    return pthread_getname_np(pthread_self(), name, sizeof(name)) == 0 && std::strncmp(name, "caf.", 4) == 0;
  }();
  return caf;
}

void clear_for_caf() {
  if (on_a_caf_thread())
    ERR_clear_error();
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buffer, int size) {
  static const auto call = real<int (*)(SSL*, void*, int)>("SSL_read");
  clear_for_caf();
  return call(ssl, buffer, size);
}

int SSL_write(SSL* ssl, const void* buffer, int size) {
  static const auto call = real<int (*)(SSL*, const void*, int)>("SSL_write");
  clear_for_caf();
  return call(ssl, buffer, size);
}

int SSL_connect(SSL* ssl) {
  static const auto call = real<int (*)(SSL*)>("SSL_connect");
  clear_for_caf();
  return call(ssl);
}

int SSL_accept(SSL* ssl) {
  static const auto call = real<int (*)(SSL*)>("SSL_accept");
  clear_for_caf();
  return call(ssl);
}

}  // extern "C"
