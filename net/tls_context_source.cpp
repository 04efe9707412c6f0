#include "net/tls_context_source.hpp"

#include <utility>

namespace mqhub::net {

namespace {

template <class Stamp>
Stamp stamp_of(const std::filesystem::path& file) {
  Stamp stamp;
  if (file.empty())
    return stamp;
  std::error_code ec;
  stamp.written = std::filesystem::last_write_time(file, ec);
  stamp.size = std::filesystem::file_size(file, ec);
  if (ec)
    stamp.size = 0;
  return stamp;
}

}  // namespace

std::shared_ptr<tls_context_source> tls_context_source::load(tls::tls_settings settings, std::string& error) {
  std::shared_ptr<tls_context_source> source(new tls_context_source(std::move(settings)));
  error = source->reload();
  if (!error.empty())
    return nullptr;
  return source;
}

std::shared_ptr<boost::asio::ssl::context> tls_context_source::current() const {
  std::lock_guard guard{mutex_};
  return context_;
}

std::string tls_context_source::reload() {
  // Stamped before loading: a file written during the load shows as changed at the next check.
  auto stamps_now = current_stamps();
  std::string error;
  auto context = tls::make_server_context(settings_, error);
  std::lock_guard guard{mutex_};
  loaded_ = stamps_now;  // a broken file is not retried until it changes again
  if (!context)
    return error;
  context_ = std::move(context);
  return {};
}

bool tls_context_source::files_changed() const {
  auto stamps_now = current_stamps();
  std::lock_guard guard{mutex_};
  return stamps_now != loaded_;
}

tls_context_source::stamps tls_context_source::current_stamps() const {
  return {stamp_of<file_stamp>(settings_.certificate_chain), stamp_of<file_stamp>(settings_.private_key),
          stamp_of<file_stamp>(settings_.client_ca)};
}

}  // namespace mqhub::net
