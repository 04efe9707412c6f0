#include "actors/durable_store.hpp"

#include <utility>

#include <spdlog/spdlog.h>
#include <caf/send.hpp>

#include "actors/messages.hpp"

namespace mqhub::actors {

void durable_store::commit(storage::write_batch batch, const caf::actor& reply_to, uint64_t token) {
  writer_.submit(std::move(batch), [reply_to, token](const storage::status& outcome) {
    caf::anon_send(reply_to, commit_result{token, outcome});
  });
}

void durable_store::commit(storage::write_batch batch) {
  writer_.submit(std::move(batch), [](const storage::status& outcome) {
    if (!outcome && outcome.failure().code != storage::errc::shutting_down)
      spdlog::error("storage: a session update was not stored: {}", outcome.failure().message);
  });
}

}  // namespace mqhub::actors
