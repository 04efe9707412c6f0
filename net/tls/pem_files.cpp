#include "net/tls/pem_files.hpp"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/tls/openssl_error.hpp"

namespace mqhub::net::tls {

namespace {

std::string errno_text(int error) {
  return std::generic_category().message(error);
}

bio_ptr open_for_reading(const std::filesystem::path& path, std::string& error) {
  clear_openssl_errors();
  bio_ptr bio{BIO_new_file(path.c_str(), "r")};
  if (!bio)
    error = path.string() + ": " + openssl_error_text();
  return bio;
}

std::string memory_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    content.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The new name is durable once its directory is: best effort, as the content itself is already synced.
void sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

x509_ptr read_certificate(const std::filesystem::path& path, std::string& error) {
  bio_ptr bio = open_for_reading(path, error);
  if (!bio)
    return nullptr;
  x509_ptr certificate{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
  if (!certificate)
    error = path.string() + ": no certificate: " + openssl_error_text();
  return certificate;
}

evp_pkey_ptr read_private_key(const std::filesystem::path& path, std::string& error) {
  bio_ptr bio = open_for_reading(path, error);
  if (!bio)
    return nullptr;
  // An empty pass phrase: an encrypted key fails here instead of prompting on the terminal.
  char no_passphrase[] = "";
  evp_pkey_ptr key{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, no_passphrase)};
  if (!key)
    error = path.string() + ": no private key: " + openssl_error_text();
  return key;
}

std::string write_new_file(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty())
    dir = ".";
  // Appended, not `"." + name`: GCC 12 at -O3 warns falsely (-Wrestrict) about that operator+.
  std::string temp_name = ".";
  temp_name += path.filename().string();
  temp_name += ".XXXXXX";
  std::string temp = (dir / temp_name).string();
  int fd = ::mkstemp(temp.data());  // created with mode 0600, so a key is never readable by others
  if (fd < 0)
    return "cannot create a file in " + dir.string() + ": " + errno_text(errno);
  std::string error;
  if (::fchmod(fd, mode) != 0 || !write_all(fd, content) || ::fsync(fd) != 0)
    error = "cannot write " + path.string() + ": " + errno_text(errno);
  if (::close(fd) != 0 && error.empty())
    error = "cannot write " + path.string() + ": " + errno_text(errno);
  if (error.empty() && ::link(temp.c_str(), path.c_str()) != 0) {
    error = errno == EEXIST ? path.string() + " exists already; not replacing it"
                            : "cannot create " + path.string() + ": " + errno_text(errno);
  }
  ::unlink(temp.c_str());
  if (error.empty())
    sync_directory(dir);
  return error;
}

std::string write_new_certificate_file(const std::filesystem::path& path, X509* certificate) {
  clear_openssl_errors();
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1)
    return "cannot encode the certificate for " + path.string() + ": " + openssl_error_text();
  return write_new_file(path, memory_text(bio.get()), 0644);
}

std::string write_new_key_file(const std::filesystem::path& path, EVP_PKEY* key) {
  clear_openssl_errors();
  // Secure memory is wiped when freed, and so is every buffer it outgrew.
  bio_ptr bio{BIO_new(BIO_s_secmem())};
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return "cannot encode the private key for " + path.string() + ": " + openssl_error_text();
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0)
    return "cannot encode the private key for " + path.string();
  return write_new_file(path, std::string_view(data, static_cast<size_t>(size)), 0600);
}

}  // namespace mqhub::net::tls
