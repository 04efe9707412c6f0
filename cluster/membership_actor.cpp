#include "cluster/membership_actor.hpp"

#include <random>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>

namespace mqhub::cluster {

namespace {

using dial_atom = caf::atom_constant<caf::atom("mq_dial")>;

// Generous for a TLS handshake over a wide-area link; a dead address on a LAN fails at once anyway.
constexpr auto connect_timeout = std::chrono::seconds(10);

std::string names_of(const std::vector<member_info>& members) {
  std::string names;
  for (const auto& member : members)
    names += (names.empty() ? "" : ", ") + member.name;
  return names;
}

}  // namespace

membership_actor::membership_actor(caf::actor_config& config, std::string node_name,
                                   const std::vector<std::string>& seeds, caf::io::middleman_actor connector,
                                   change_listener on_change, std::chrono::milliseconds dial_interval,
                                   caf::actor gateway)
    : caf::event_based_actor(config),
      table_({std::move(node_name), {}}, seeds),
      connector_(std::move(connector)),
      on_change_(std::move(on_change)),
      dial_interval_(dial_interval),
      gateway_(std::move(gateway)) {
  set_down_handler([this](caf::down_msg& down) { lost(down); });
}

caf::behavior membership_actor::make_behavior() {
  return {
      [this](caf::publish_atom, std::string address) {
        if (!from_this_node())
          return;
        bool first = table_.self().address.empty();
        table_.set_self_address(std::move(address));
        if (first) {
          changed();
          send(this, dial_atom::value);
        }
      },
      [this](hello_atom, const member_info& joiner,
             const caf::actor& gateway) -> caf::result<member_info, std::vector<member_info>, caf::actor> {
        auto sender = caf::actor_cast<caf::actor>(current_sender());
        if (!sender || sender == this)
          return caf::make_error(caf::sec::invalid_argument, "a node does not join itself");
        if (joiner.name == table_.self().name)
          return caf::make_error(caf::sec::runtime_error, "the node name " + joiner.name + " is taken");
        if (auto it = handles_.find(joiner.name); it != handles_.end() && it->second != sender)
          return caf::make_error(caf::sec::runtime_error, "the node name " + joiner.name + " is taken");
        admit(joiner, sender, gateway);
        return {table_.self(), table_.members(), gateway_};
      },
      [this](member_atom, const member_info& member) {
        // Only learnt, with its name, so that dial_all waits: the new member dials this node itself. Dialled
        // at once instead (as an address of unknown name would be), it meets the newcomer's own dial, and
        // CAF then closes both links and relays between the two through a third node, until that one dies.
        if (member.name != table_.self().name) {
          table_.learn_address(member.address);
          table_.alias(member.address, member.name);
        }
      },
      [this](leave_atom) -> caf::result<bool> {
        if (!from_this_node())
          return caf::make_error(caf::sec::invalid_argument, "only the node itself may leave");
        table_.set_leaving(table_.self().name);
        changed();
        if (handles_.empty())
          return true;
        auto told = make_response_promise<bool>();
        auto left = std::make_shared<size_t>(handles_.size());
        for (const auto& [name, handle] : handles_)
          request(handle, std::chrono::seconds(2), leave_atom::value, table_.self().name)
              .then(
                  [told, left](bool) mutable {
                    if (--*left == 0)
                      told.deliver(true);
                  },
                  [told, left](caf::error&) mutable {
                    if (--*left == 0)
                      told.deliver(true);
                  });
        return told;
      },
      [this](leave_atom, const std::string& name) {
        auto sender = caf::actor_cast<caf::actor>(current_sender());
        auto it = handles_.find(name);
        if (it != handles_.end() && it->second == sender) {
          spdlog::info("cluster: {} is leaving", name);
          table_.set_leaving(name);
          changed();
        }
        return true;
      },
      [this](dial_atom) {
        if (!from_this_node())
          return;
        dial_all();
        // Jittered, so that two nodes that lost each other rarely dial each other at the same moment.
        std::uniform_int_distribution<int64_t> spread(dial_interval_.count() / 2,
                                                      dial_interval_.count() * 3 / 2);
        delayed_send(this, std::chrono::milliseconds(spread(random_)), dial_atom::value);
      },
  };
}

void membership_actor::on_exit() {
  // The handles go with the actor, not with its memory: the middleman keeps a published actor's memory until
  // it stops, and a strong handle to the middleman's own actor kept here would then hold it alive, so that
  // the actor system's shutdown waits forever for its thread.
  connector_ = nullptr;
  handles_.clear();
  gateways_.clear();
  gateway_ = nullptr;
  on_change_ = nullptr;
}

bool membership_actor::from_this_node() {
  // Control messages; another node must not start a second dial loop or change this node's address.
  const auto& sender = current_sender();
  return !sender || sender->node() == node();
}

void membership_actor::dial_all() {
  // Two nodes that dial each other at once end up with no link at all: each keeps its own connection as the
  // direct one and CAF closes the other's. So an address with a known node behind it waits a round before it
  // is dialled (a joining node has dialled the others by then), and of two nodes that lost each other the one
  // with the lower name dials first; the other dials too after a while, in case the lower one does not know
  // its address (a seed restarted without --join). Seeds not reached yet are dialled every round.
  ++round_;
  std::map<std::string, int> still_idle;
  for (const auto& address : table_.addresses_to_dial()) {
    int rounds = still_idle[address] = idle_rounds_[address] + 1;
    const std::string* name = table_.name_at(address);
    int wait = name == nullptr ? 1 : (table_.self().name < *name ? 2 : 4);
    if (round_ == 1 || (rounds >= wait && round_ >= not_before_[address]))
      dial(address);
  }
  idle_rounds_ = std::move(still_idle);
}

void membership_actor::dial(const std::string& address) {
  auto target = split_address(address);
  if (!target) {
    dial_failed(address, caf::make_error(caf::sec::invalid_argument, address + " is not HOST:PORT"));
    return;
  }
  if (!dialling_.insert(address).second)
    return;
  request(connector_, connect_timeout, caf::connect_atom::value, target->first, target->second)
      .then(
          [this, address](const caf::node_id&, caf::strong_actor_ptr& found, const std::set<std::string>&) {
            auto remote = caf::actor_cast<caf::actor>(found);
            if (!remote) {
              dial_failed(address, caf::make_error(caf::sec::no_actor_published_at_port));
              return;
            }
            request(remote, connect_timeout, hello_atom::value, table_.self(), gateway_)
                .then([this, address, remote](
                          member_info& responder, std::vector<member_info>& members,
                          caf::actor& gateway) { greeted(address, remote, responder, members, gateway); },
                      [this, address](caf::error& e) { dial_failed(address, e); });
          },
          [this, address](caf::error& e) { dial_failed(address, e); });
}

void membership_actor::dial_failed(const std::string& address, const caf::error& why) {
  dialling_.erase(address);
  // A host that drops packets holds the middleman's connect for minutes: back off, so that dials to it do
  // not pile up before those to live members.
  if (why == caf::sec::request_timeout) {
    int in_a_row = ++timeouts_[address];
    not_before_[address] = round_ + std::min(1 << std::min(in_a_row, 5), 30);
  }
  auto text = to_string(why);
  auto& logged = failures_[address];
  if (logged != text)
    spdlog::warn("cluster: cannot join {}: {}", address, text);
  logged = text;
}

void membership_actor::greeted(const std::string& address, const caf::actor& remote,
                               const member_info& responder, const std::vector<member_info>& members,
                               const caf::actor& gateway) {
  dialling_.erase(address);
  failures_.erase(address);
  timeouts_.erase(address);
  not_before_.erase(address);
  if (responder.name == table_.self().name)
    return;  // this node's own port under another address
  if (auto it = handles_.find(responder.name); it != handles_.end() && it->second != remote) {
    spdlog::warn("cluster: {} answers as {}, a name another member has", address, responder.name);
    return;
  }
  table_.alias(address, responder.name);
  admit(responder, remote, gateway);
  for (const auto& member : members) {
    if (member.name != table_.self().name && !table_.contains(member.name)) {
      table_.learn_address(member.address);
      table_.alias(member.address, member.name);
      dial(member.address);
    }
  }
}

void membership_actor::admit(const member_info& member, const caf::actor& handle, const caf::actor& gateway) {
  auto& known = handles_[member.name];
  if (known == handle)
    return;
  gateways_[member.name] = gateway;
  if (known)
    demonitor(known);
  known = handle;
  monitor(handle);
  bool joined = table_.add(member);
  for (const auto& [name, other] : handles_) {
    if (name != member.name)
      send(other, member_atom::value, member);
  }
  if (joined)
    spdlog::info("cluster: {} joined from {}", member.name, member.address);
  changed();
}

void membership_actor::lost(const caf::down_msg& down) {
  for (auto it = handles_.begin(); it != handles_.end(); ++it) {
    if (it->second.address() != down.source)
      continue;
    std::string name = it->first;
    handles_.erase(it);
    gateways_.erase(name);
    table_.remove(name);
    spdlog::warn("cluster: lost {}: {}", name, to_string(down.reason));
    changed();
    return;
  }
}

void membership_actor::changed() {
  auto members = table_.members();
  auto placement = table_.placement();
  spdlog::info("cluster: {} nodes: {} (placement version {}, {} shards here)", members.size(),
               names_of(members), placement.version(), placement.shards_of(table_.self().name).size());
  if (on_change_)
    on_change_(members, placement, gateways_);
}

}  // namespace mqhub::cluster
