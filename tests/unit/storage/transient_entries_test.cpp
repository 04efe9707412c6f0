#include "storage/transient_entries.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "storage/key_encoding.hpp"

namespace {

using namespace mqhub::storage;

queue_entry entry() {
  queue_entry e;
  e.message = std::make_shared<const stored_message>();
  return e;
}

/// Whether the group leaves out each operation of `batch`, in order.
std::vector<bool> skipped(const transient_entries& transient, const write_batch& batch) {
  std::vector<bool> out;
  for (const auto& op : batch.operations()) {
    out.push_back(transient.skips(op));
  }
  return out;
}

TEST(transient_entries, an_entry_created_and_removed_in_one_group_is_left_out_whole) {
  write_batch publish;
  publish.enqueue("a", 1, entry());
  publish.enqueue("a", 2, entry());  // still queued at the end of the group
  write_batch deliver;
  deliver.update_entry("a", 1, entry());
  write_batch ack;
  ack.dequeue("a", 1, 0);
  const std::vector<const write_batch*> group{&publish, &deliver, &ack};
  const transient_entries transient(group);
  EXPECT_EQ(skipped(transient, publish), (std::vector<bool>{true, false}));
  EXPECT_EQ(skipped(transient, deliver), std::vector<bool>{true});
  EXPECT_EQ(skipped(transient, ack), std::vector<bool>{true});
}

TEST(transient_entries, an_entry_that_existed_before_the_group_is_still_deleted) {
  write_batch batch;
  batch.update_entry("a", 1, entry());
  batch.dequeue("a", 1, 0);
  const std::vector<const write_batch*> group{&batch};
  EXPECT_EQ(skipped(transient_entries(group), batch), (std::vector<bool>{false, false}));
}

TEST(transient_entries, an_entry_written_or_inserted_again_after_its_delete_is_kept) {
  for (bool insert_again : {false, true}) {
    write_batch batch;
    batch.enqueue("a", 1, entry());
    batch.dequeue("a", 1, 0);
    if (insert_again) {
      batch.enqueue("a", 1, entry());
    } else {
      batch.update_entry("a", 1, entry());
    }
    const std::vector<const write_batch*> group{&batch};
    EXPECT_EQ(skipped(transient_entries(group), batch), (std::vector<bool>{false, false, false}))
        << insert_again;
  }
}

TEST(transient_entries, only_queue_entries_are_considered) {
  write_batch batch;
  batch.enqueue("a", 1, entry());
  batch.del(column::sessions, queue_key("a", 1));  // the same bytes in another column
  batch.delete_session("a", {});
  const std::vector<const write_batch*> group{&batch};
  EXPECT_EQ(skipped(transient_entries(group), batch), (std::vector<bool>{false, false, false, false}));
}

}  // namespace
