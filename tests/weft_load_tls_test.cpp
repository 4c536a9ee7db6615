// weft-load over HTTPS: the built-in TLS server loaded with a certificate
// the test makes (OpenSSL's API: a self-signed P-256 certificate for
// localhost and 127.0.0.1, valid or expired), trusted with --cacert, not
// checked with -k, or refused; a server that closes during the handshake;
// session resumption; missing certificate files; and nginx with TLS when it
// is installed. Loopback addresses only; every run lasts a few hundred
// milliseconds.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "http_client.hpp"
#include "load.hpp"
#include "report.hpp"
#include "server.hpp"
#include "test_support.hpp"
#include "tls.hpp"
#include "transport.hpp"
#include "url.hpp"
#include "weft/weft.hpp"
#include "weft_load_support.hpp"

namespace {

using namespace std::chrono_literals;
using namespace weft::load;
using namespace weft::load::test;

// Writes a self-signed certificate (`<name>.crt`) and its key (`<name>.key`)
// into `dir`, valid from now + not_before to now + not_after, for the
// subject alternative names `san`, as `openssl req -x509` makes them.
// Returns the certificate's path.
std::string make_certificate(const temp_dir& dir, const std::string& name,
                             std::chrono::hours not_before, std::chrono::hours not_after,
                             const char* san = "DNS:localhost,IP:127.0.0.1") {
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"),
                                                                &EVP_PKEY_free);
  const std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  EXPECT_TRUE(key && cert);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()),
                  std::chrono::duration_cast<std::chrono::seconds>(not_before).count());
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  std::chrono::duration_cast<std::chrono::seconds>(not_after).count());
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                                   std::pair{NID_subject_alt_name, san}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    EXPECT_NE(ext, nullptr);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);

  const std::string cert_path = dir.file(name + ".crt");
  std::FILE* f = std::fopen(cert_path.c_str(), "w");
  EXPECT_NE(f, nullptr);
  PEM_write_X509(f, cert.get());
  std::fclose(f);
  f = std::fopen(dir.file(name + ".key").c_str(), "w");
  EXPECT_NE(f, nullptr);
  PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  return cert_path;
}

std::string key_of(const std::string& cert_path) {
  return cert_path.substr(0, cert_path.size() - 4) + ".key";
}

// The built-in server over TLS with the certificate `cert_path`, on its own
// runtime.
class tls_server {
 public:
  explicit tls_server(const std::string& cert_path)
      : rt_(weft::options{.workers = 1}),
        ctx_(tls_context::server(cert_path, key_of(cert_path))),
        server_(rt_, "127.0.0.1", 0, &ctx_) {}
  [[nodiscard]] std::string url(const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + std::to_string(server_.port()) + "/";
  }
  [[nodiscard]] std::uint16_t port() const { return server_.port(); }
  [[nodiscard]] std::uint64_t requests() const { return server_.requests(); }

 private:
  weft::runtime rt_;
  tls_context ctx_;
  http_server server_;
};

// A short run of weft-load on `url` with `extra` options, its JSON on stdout.
cli_result load(const std::string& url, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      url,  "-c", "4",       "-d",     std::to_string(200 * run_scale) + "ms",
      "-w", "2",  "--quiet", "--json", "-"};
  args.insert(args.end(), extra.begin(), extra.end());
  return cli(args);
}

std::uint64_t errors_of(const report& r, error_kind kind) {
  return r.errors[static_cast<std::size_t>(kind)];
}

// A short run of two users on `url` with the client context `ctx`.
report run_with(weft::runtime& rt, const std::string& url, const tls_context& ctx) {
  load_plan plan;
  plan.target = parse_url(url);
  plan.tls = &ctx;
  plan.request = build_request(plan.target, {});
  plan.connections = 2;
  plan.duration = 100ms * run_scale;
  return run_load(rt, plan);
}

TEST(LoadTls, TrustedWithCacertByAddressAndByName) {
  const temp_dir dir("tls_cacert");
  const std::string cert = make_certificate(dir, "server", -1h, 24h);
  const tls_server server(cert);
  for (const std::string host : {"127.0.0.1", "localhost"}) {  // IP SAN, and SNI + DNS SAN
    const cli_result r = load(server.url(host), {"--cacert", cert});
    ASSERT_EQ(r.code, exit_ok) << r.err;
    const report rep = from_json_text(r.out);
    EXPECT_GT(rep.requests, 0u);
    EXPECT_EQ(rep.error_total(), 0u);
    EXPECT_EQ(rep.status.at(200), rep.requests);
    EXPECT_EQ(rep.target, server.url(host));
  }
  EXPECT_GT(server.requests(), 0u);
}

TEST(LoadTls, InsecureSkipsTheCheck) {
  const temp_dir dir("tls_insecure");
  const std::string cert = make_certificate(dir, "server", -1h, 24h, "DNS:other.example");
  const tls_server server(cert);
  const cli_result r = load(server.url(), {"-k"});
  ASSERT_EQ(r.code, exit_ok) << r.err;
  EXPECT_GT(from_json_text(r.out).requests, 0u);
}

// Without --cacert or -k, a certificate nobody vouches for stops the run
// before it starts: exit 2 and a message that says why and what to do; so
// do an expired one and one for another name, even when trusted.
TEST(LoadTls, UntrustedExpiredOrMisnamedCertificatesExitWithTwo) {
  const temp_dir dir("tls_refused");
  const std::string good = make_certificate(dir, "good", -1h, 24h);
  const std::string expired = make_certificate(dir, "expired", -48h, -24h);
  const std::string misnamed = make_certificate(dir, "misnamed", -1h, 24h, "DNS:other.example");
  struct attempt {
    std::string cert;
    std::vector<std::string> options;
    std::string reason;
  };
  for (const attempt& a : {attempt{good, {}, "self-signed certificate"},
                           attempt{expired, {"--cacert", expired}, "certificate has expired"},
                           attempt{misnamed, {"--cacert", misnamed}, "mismatch"}}) {
    const tls_server server(a.cert);
    const cli_result r = load(server.url(), a.options);
    EXPECT_EQ(r.code, exit_unreachable) << r.err;
    EXPECT_NE(r.err.find("certificate verify failed: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(a.reason), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--cacert FILE"), std::string::npos) << r.err;
    EXPECT_EQ(server.requests(), 0u);
  }
}

// During a run (past the first connection's check), failed handshakes are
// errors by kind and the run goes on.
TEST(LoadTls, HandshakeFailuresAreCountedByKind) {
  const temp_dir dir("tls_counted");
  const tls_server server(make_certificate(dir, "server", -1h, 24h));
  weft::runtime rt(weft::options{.workers = 2});
  const report r = run_with(rt, server.url(), tls_context::client({}));
  EXPECT_EQ(r.requests, 0u);
  EXPECT_EQ(r.connects, 0u);
  EXPECT_GT(errors_of(r, error_kind::tls_verify), 0u);
  EXPECT_EQ(r.error_total(), errors_of(r, error_kind::tls_verify));
  EXPECT_NE(format_report(r).find("tls-verify"), std::string::npos);
}

TEST(LoadTls, ServerClosingDuringTheHandshake) {
  weft::runtime rt(weft::options{.workers = 1});
  const scripted_server server(rt, [](weft::net::tcp_stream& s) {
    std::byte hello[512];
    s.read_some(hello);  // then hangs up
  });
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/";

  const cli_result r = load(url, {"-k"});
  EXPECT_EQ(r.code, exit_unreachable);
  EXPECT_NE(r.err.find("closed the connection during the handshake"), std::string::npos) << r.err;

  weft::runtime loader(weft::options{.workers = 2});
  const report counted = run_with(loader, url, tls_context::client({.verify = false}));
  EXPECT_EQ(counted.requests, 0u);
  EXPECT_GT(errors_of(counted, error_kind::tls_handshake), 0u);
  EXPECT_EQ(counted.error_total(), errors_of(counted, error_kind::tls_handshake));
}

// A connection keeps the session the server hands out; the next one
// resumes it (no certificate exchange).
TEST(LoadTls, ReconnectsResumeTheSession) {
  const temp_dir dir("tls_resume");
  const std::string cert = make_certificate(dir, "server", -1h, 24h);
  const tls_server server(cert);
  weft::runtime rt(weft::options{.workers = 1});
  const tls_context client = tls_context::client({.ca_file = cert});
  const url target = parse_url(server.url());
  const std::string request = build_request(target, {});
  tls_session_slot slot;
  const auto exchange = [&] {
    return rt.block_on([&] {
      transport t;
      t.open(weft::net::tcp_stream::connect(target.host, target.port), &client, target.host, &slot);
      const auto deadline = transport::clock::now() + 5s;
      t.handshake(deadline);
      t.write_all(std::as_bytes(std::span(request)), deadline);
      std::string reply;
      std::byte buf[4096];
      while (!reply.ends_with(http_server::body)) {
        const std::size_t n = t.read_some(buf, deadline);
        if (n == 0) break;
        reply.append(reinterpret_cast<const char*>(buf), n);
      }
      EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK")) << reply;
      return t.resumed();
    });
  };
  EXPECT_FALSE(exchange());
  EXPECT_TRUE(slot.has_session());
  EXPECT_TRUE(exchange());
}

TEST(LoadTls, MissingOrBadFilesAreUsageErrors) {
  const temp_dir dir("tls_files");
  const std::string cert = make_certificate(dir, "server", -1h, 24h);
  const std::string missing = dir.file("missing.pem");

  cli_result r = cli({"serve", "--tls-cert", missing, "--tls-key", key_of(cert), "-d", "1s"});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("cannot read the certificate '" + missing + "'"), std::string::npos)
      << r.err;
  r = cli({"serve", "--tls-cert", cert, "--tls-key", cert, "-d", "1s"});  // no key in it
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("no PEM private key in '" + cert + "'"), std::string::npos) << r.err;
  r = cli({"serve", "--tls-cert", cert, "-d", "1s"});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("--tls-cert and --tls-key go together"), std::string::npos) << r.err;

  const tls_server server(cert);
  r = load(server.url(), {"--cacert", missing});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("--cacert: cannot read the CA file '" + missing + "'"), std::string::npos)
      << r.err;
  r = load(server.url(), {"--cacert", key_of(cert)});
  EXPECT_EQ(r.code, exit_usage);
  EXPECT_NE(r.err.find("--cacert: no PEM certificate in"), std::string::npos) << r.err;
}

// nginx with TLS serving a static file, when nginx is installed (CI does
// not need it): one process, in the foreground, on a free loopback port.
TEST(LoadTls, AgainstNginx) {
  const char* nginx = "/usr/sbin/nginx";
  if (!std::filesystem::exists(nginx)) GTEST_SKIP() << "nginx is not installed";
  const temp_dir dir("tls_nginx");
  const std::string cert = make_certificate(dir, "server", -1h, 24h);
  std::filesystem::create_directories(dir.file("www"));
  std::ofstream(dir.file("www/index.html")) << "hello from nginx\n";
  std::uint16_t port = 0;
  {
    auto probe = weft::net::tcp_listener::bind("127.0.0.1", 0);
    port = probe.local_port();
  }  // free again for nginx (another process could take it meanwhile: unlikely)
  std::ofstream(dir.file("nginx.conf"))
      << "daemon off;\nmaster_process off;\npid " << dir.file("nginx.pid") << ";\n"
      << "error_log " << dir.file("error.log") << ";\nevents {}\nhttp {\n  access_log off;\n"
      << "  client_body_temp_path " << dir.file("tmp") << ";\n"
      << "  proxy_temp_path " << dir.file("tmp") << ";\n  fastcgi_temp_path " << dir.file("tmp")
      << ";\n  uwsgi_temp_path " << dir.file("tmp") << ";\n  scgi_temp_path " << dir.file("tmp")
      << ";\n  server {\n    listen 127.0.0.1:" << port << " ssl;\n"
      << "    ssl_certificate " << cert << ";\n    ssl_certificate_key " << key_of(cert) << ";\n"
      << "    root " << dir.file("www") << ";\n  }\n}\n";
  const pid_t pid = weft::test::spawn_with_environment(
      {nginx, "-e", dir.file("error.log"), "-p", dir.file(""), "-c", dir.file("nginx.conf")}, {});

  // Waits until nginx accepts (a condition, bounded: 10 s).
  weft::runtime rt(weft::options{.workers = 1});
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  bool up = false;
  bool exited = false;
  while (!up && !exited && std::chrono::steady_clock::now() < give_up) {
    exited = ::waitpid(pid, nullptr, WNOHANG) == pid;
    up = rt.block_on([port] {
      try {
        weft::net::tcp_stream::connect("127.0.0.1", port, 1s);
        return true;
      } catch (const std::system_error&) {
        weft::this_fiber::sleep_for(20ms);  // nginx is still starting
        return false;
      }
    });
  }
  if (up) {
    const cli_result r =
        load("https://localhost:" + std::to_string(port) + "/index.html", {"--cacert", cert});
    EXPECT_EQ(r.code, exit_ok) << r.err;
    if (r.code == exit_ok) {
      const report rep = from_json_text(r.out);
      EXPECT_GT(rep.requests, 0u);
      EXPECT_EQ(rep.error_total(), 0u);
      EXPECT_EQ(rep.status.at(200), rep.requests);
    }
  }
  if (!exited) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
  ASSERT_TRUE(up) << "nginx did not start; see its error log";
}

}  // namespace
