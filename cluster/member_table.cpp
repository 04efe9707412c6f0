#include "cluster/member_table.hpp"

#include <algorithm>
#include <charconv>

namespace mqhub::cluster {

member_table::member_table(member_info self, const std::vector<std::string>& seeds) : self_(std::move(self)) {
  for (const auto& seed : seeds)
    learn_address(seed);
}

bool member_table::add(const member_info& member) {
  if (member.name == self_.name)
    return false;
  learn_address(member.address);
  alias(member.address, member.name);
  auto [it, inserted] = members_.try_emplace(member.name, member.address);
  if (leaving_.erase(member.name) > 0)
    ++version_;
  if (inserted)
    ++version_;
  else
    it->second = member.address;
  return inserted;
}

bool member_table::remove(const std::string& name) {
  leaving_.erase(name);
  if (members_.erase(name) == 0)
    return false;
  ++version_;
  return true;
}

void member_table::set_self_address(std::string address) {
  addresses_.erase(address);
  self_.address = std::move(address);
}

void member_table::learn_address(const std::string& address) {
  if (!address.empty() && address != self_.address)
    addresses_.insert(address);
}

std::vector<member_info> member_table::members() const {
  std::vector<member_info> all{self_};
  for (const auto& [name, address] : members_)
    all.push_back({name, address});
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return all;
}

std::vector<std::string> member_table::addresses_to_dial() const {
  std::vector<std::string> dial;
  for (const auto& address : addresses_) {
    const std::string* name = name_at(address);
    if (name == nullptr || !contains(*name))
      dial.push_back(address);
  }
  return dial;
}

const std::string* member_table::name_at(const std::string& address) const {
  auto it = names_.find(address);
  return it == names_.end() ? nullptr : &it->second;
}

void member_table::set_leaving(const std::string& name) {
  if ((name == self_.name || contains(name)) && leaving_.insert(name).second)
    ++version_;
}

shard_placement member_table::placement() const {
  std::vector<std::string> names;
  if (!leaving(self_.name))
    names.push_back(self_.name);
  for (const auto& [name, address] : members_)
    if (!leaving(name))
      names.push_back(name);
  if (names.empty())
    names.push_back(self_.name);  // someone must own the shards
  return {std::move(names), version_};
}

std::optional<std::pair<std::string, uint16_t>> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  uint16_t port = 0;
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port == 0)
    return std::nullopt;
  return std::pair<std::string, uint16_t>{host, port};
}

}  // namespace mqhub::cluster
