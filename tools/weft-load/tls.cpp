// weft-load: tls_context and tls_stream (tls.hpp): OpenSSL behind a BIO
// pair, the socket driven by the fiber.
#include "tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <new>
#include <system_error>

#include "transport.hpp"

namespace weft::load {

namespace {

// Each half of the BIO pair buffers this much: a whole TLS record (16 KiB
// of data plus header, padding and tag) fits, so a record is read or
// written in one go rather than in pieces as the pair drains.
constexpr std::size_t pair_buffer = 17 * 1024;

// OpenSSL's reason for the error it just queued (on this thread: called
// right after the failed call, before anything that may park).
std::string openssl_reason(const char* fallback) {
  const unsigned long e = ERR_get_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return reason != nullptr ? reason : fallback;
}

// Checks that `path` can be opened, for a message that names it.
void check_readable(const std::string& path, const char* what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    throw std::invalid_argument(std::string("cannot read ") + what + " '" + path +
                                "': " + std::strerror(errno));
  }
  std::fclose(f);
}

bool is_ip_address(const std::string& host) {
  unsigned char addr[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// What a failed SSL_* call means, read at once (see tls.hpp on the error
// queue). During the handshake, a certificate that did not verify says why
// in the verify result rather than in the queue.
tls_error failure_of(SSL* ssl, tls_failure step, int err) {
  if (step == tls_failure::handshake && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) {
      return tls_error(tls_failure::verify, std::string("certificate verify failed: ") +
                                                X509_verify_cert_error_string(result));
    }
  }
  const std::string reason =
      openssl_reason(err == SSL_ERROR_SYSCALL ? "unexpected end of stream" : "unknown error");
  return tls_error(
      step, (step == tls_failure::handshake ? "TLS handshake failed: " : "TLS error: ") + reason);
}

}  // namespace

void tls_context::deleter::operator()(ssl_ctx_st* ctx) const noexcept { SSL_CTX_free(ctx); }
void tls_session_slot::deleter::operator()(ssl_session_st* s) const noexcept {
  SSL_SESSION_free(s);
}
void tls_stream::ssl_deleter::operator()(ssl_st* ssl) const noexcept { SSL_free(ssl); }
void tls_stream::bio_deleter::operator()(bio_st* bio) const noexcept { BIO_free(bio); }

int tls_context::keep_session(ssl_st* ssl, ssl_session_st* session) {
  auto* slot = static_cast<tls_session_slot*>(SSL_get_app_data(ssl));
  if (slot == nullptr) return 0;  // not kept: OpenSSL frees it
  slot->session_.reset(session);  // takes the reference OpenSSL hands over
  return 1;
}

tls_context tls_context::client(const tls_client_options& options) {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) throw std::bad_alloc();
  tls_context ctx(raw, false);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_verify(raw, options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!options.ca_file.empty()) {
    check_readable(options.ca_file, "the CA file");
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(raw, options.ca_file.c_str(), nullptr) != 1) {
      throw std::invalid_argument("no PEM certificate in '" + options.ca_file +
                                  "': " + openssl_reason("unknown error"));
    }
  } else if (options.verify) {
    SSL_CTX_set_default_verify_paths(raw);
  }
  // Sessions go to the connection's slot only (see keep_session), not to a
  // cache shared by every fiber.
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(raw, &tls_context::keep_session);
  return ctx;
}

tls_context tls_context::server(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) throw std::bad_alloc();
  tls_context ctx(raw, true);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  check_readable(cert_file, "the certificate");
  check_readable(key_file, "the private key");
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(raw, cert_file.c_str()) != 1) {
    throw std::invalid_argument("no PEM certificate in '" + cert_file +
                                "': " + openssl_reason("unknown error"));
  }
  ERR_clear_error();
  if (SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::invalid_argument("no PEM private key in '" + key_file +
                                "': " + openssl_reason("unknown error"));
  }
  ERR_clear_error();
  if (SSL_CTX_check_private_key(raw) != 1) {
    throw std::invalid_argument("the private key in '" + key_file +
                                "' does not match the certificate in '" + cert_file + "'");
  }
  // One TLS 1.3 ticket per handshake (OpenSSL sends two by default): a
  // load-testing client resumes with the last one it got.
  SSL_CTX_set_num_tickets(raw, 1);
  return ctx;
}

const tls_context& tls_context::default_client() {
  static const tls_context ctx = client({});
  return ctx;
}

tls_stream::tls_stream(const tls_context& ctx, net::tcp_stream& socket, std::string_view host,
                       tls_session_slot* resume)
    : socket_(socket) {
  ERR_clear_error();
  ssl_.reset(SSL_new(ctx.ctx_.get()));
  BIO* inside = nullptr;
  BIO* outside = nullptr;
  if (!ssl_ || BIO_new_bio_pair(&inside, pair_buffer, &outside, pair_buffer) != 1) {
    throw std::bad_alloc();
  }
  network_.reset(outside);
  SSL_set_bio(ssl_.get(), inside, inside);  // the SSL object owns its half
  if (ctx.is_server()) {
    SSL_set_accept_state(ssl_.get());
    return;
  }
  SSL_set_connect_state(ssl_.get());
  const std::string name(host);
  ERR_clear_error();
  const bool named =
      is_ip_address(name)
          // No SNI for an address (RFC 6066); the certificate must name the IP.
          ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), name.c_str()) == 1
          : SSL_set_tlsext_host_name(ssl_.get(), name.c_str()) == 1 &&
                SSL_set1_host(ssl_.get(), name.c_str()) == 1;
  if (!named) {
    throw tls_error(tls_failure::handshake, "TLS: cannot check the name '" + name +
                                                "': " + openssl_reason("unknown error"));
  }
  SSL_set_app_data(ssl_.get(), resume);  // where keep_session puts new sessions
  if (resume != nullptr && resume->session_) SSL_set_session(ssl_.get(), resume->session_.get());
}

// Without a close_notify sent, SSL_free would take the session for a broken
// one and make it unresumable; a connection is dropped on purpose (the end
// of a keep-alive exchange, the end of the run), so it says it was shut
// down. A session a fatal error ended is unresumable already.
tls_stream::~tls_stream() {
  SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
}

template <class Op>
int tls_stream::drive(Op op, clock::time_point deadline, tls_failure step) {
  for (;;) {
    ERR_clear_error();
    const int rc = op();
    const int err = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL) {
      const tls_error failure = failure_of(ssl_.get(), step, err);  // before any wait
      try {
        flush(deadline);  // the alert that tells the peer why, if it still listens
      } catch (const std::system_error&) {
      }
      throw failure;
    }
    flush(deadline);  // handshake messages, records, alerts
    switch (err) {
      case SSL_ERROR_NONE:
        return rc;
      case SSL_ERROR_WANT_READ:
        if (!fill(deadline)) return 0;
        break;
      case SSL_ERROR_ZERO_RETURN:  // close_notify
        return 0;
      case SSL_ERROR_WANT_WRITE:  // the pair was full, flush() drained it
        break;
      default:
        // WANT_X509_LOOKUP, WANT_ASYNC, ...: callbacks and engines this
        // code never installs. Retrying would spin without waiting.
        throw tls_error(step, "TLS error: unexpected SSL_get_error() " + std::to_string(err));
    }
  }
}

void tls_stream::flush(clock::time_point deadline) {
  char* out = nullptr;
  for (int n = 0; (n = BIO_nread0(network_.get(), &out)) > 0;) {
    socket_.write_all(std::as_bytes(std::span(out, static_cast<std::size_t>(n))),
                      time_left(deadline));
    BIO_nread(network_.get(), &out, n);  // consumes what was written
  }
}

bool tls_stream::fill(clock::time_point deadline) {
  char* in = nullptr;
  const int room = BIO_nwrite0(network_.get(), &in);
  // OpenSSL asks for more only once it has read the pair empty.
  if (room <= 0) throw tls_error(tls_failure::record, "TLS error: input buffer full");
  const std::size_t n = socket_.read_some(
      std::as_writable_bytes(std::span(in, static_cast<std::size_t>(room))), time_left(deadline));
  if (n == 0) return false;
  BIO_nwrite(network_.get(), &in, static_cast<int>(n));  // hands the bytes to OpenSSL
  return true;
}

void tls_stream::handshake(clock::time_point deadline) {
  if (drive([this] { return SSL_do_handshake(ssl_.get()); }, deadline, tls_failure::handshake) ==
      0) {
    throw tls_error(tls_failure::handshake,
                    "TLS handshake failed: the peer closed the connection during the handshake");
  }
}

std::size_t tls_stream::read_some(std::span<std::byte> buf, clock::time_point deadline) {
  if (buf.empty()) return 0;
  const int want = static_cast<int>(std::min<std::size_t>(buf.size(), INT_MAX));
  const int n =
      drive([&] { return SSL_read(ssl_.get(), buf.data(), want); }, deadline, tls_failure::record);
  return static_cast<std::size_t>(n);
}

void tls_stream::write_all(std::span<const std::byte> data, clock::time_point deadline) {
  while (!data.empty()) {
    const int want = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
    const int n = drive([&] { return SSL_write(ssl_.get(), data.data(), want); }, deadline,
                        tls_failure::record);
    if (n == 0) throw std::system_error(std::make_error_code(std::errc::broken_pipe));
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

bool tls_stream::resumed() const noexcept { return SSL_session_reused(ssl_.get()) == 1; }

}  // namespace weft::load
