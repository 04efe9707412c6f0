#pragma once

#include <string>
#include <utility>
#include <variant>

#include "net/mqtt/reason_code.hpp"

namespace mqhub::net::mqtt {

/// Why a packet was refused: the reason code the spec prescribes and a short text for logs and reason
/// strings.
struct protocol_error {
  reason_code code = reason_code::malformed_packet;
  std::string reason;
};

/// The value of a decode step or the protocol error that stopped it.
template <class T>
class result {
 public:
  result(T value) : state_(std::move(value)) {}               // NOLINT(google-explicit-constructor)
  result(protocol_error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  explicit operator bool() const { return state_.index() == 0; }
  T& operator*() { return std::get<0>(state_); }
  const T& operator*() const { return std::get<0>(state_); }
  T* operator->() { return &std::get<0>(state_); }
  const T* operator->() const { return &std::get<0>(state_); }
  const protocol_error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, protocol_error> state_;
};

}  // namespace mqhub::net::mqtt
