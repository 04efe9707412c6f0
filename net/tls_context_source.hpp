#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "net/tls/server_context.hpp"

namespace mqhub::net {

/// The server's TLS context, reloadable: new connections take the current one, connections made before a
/// reload keep theirs. Thread-safe.
class tls_context_source {
 public:
  /// Loads the files; null with `error` set when they do not load.
  static std::shared_ptr<tls_context_source> load(tls::tls_settings settings, std::string& error);

  std::shared_ptr<boost::asio::ssl::context> current() const;

  /// Loads the files again and, when they load, serves the new context. Returns the error, empty on success.
  std::string reload();

  /// Whether a file changed since the last (re)load, by modification time and size.
  bool files_changed() const;

 private:
  struct file_stamp {
    std::filesystem::file_time_type written{};
    uintmax_t size = 0;
    bool operator==(const file_stamp&) const = default;
  };
  struct stamps {
    file_stamp chain, key, ca;
    bool operator==(const stamps&) const = default;
  };

  explicit tls_context_source(tls::tls_settings settings) : settings_(std::move(settings)) {}
  stamps current_stamps() const;

  const tls::tls_settings settings_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  stamps loaded_;
};

}  // namespace mqhub::net
