// Output `websocket`: live samples and events on GET /api/stream. Clients
// subscribe by selector; each frame_interval the samples that arrived are
// encoded once per distinct subscription set and the same bytes written to
// every client holding it. Slow clients are coalesced, then dropped.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client.hpp"
#include "messages.hpp"
#include "sample_toml.h"
#include "subscriptions.hpp"
#include "vitals/plugin.hpp"
#include "vitals/settings.hpp"

namespace vitals::websocket {

namespace {

uint64_t ms_of(int64_t ns) { return static_cast<uint64_t>(ns / 1'000'000); }

// The selectors of a {"subscribe": ...} or {"unsubscribe": ...} value: one
// string or an array of strings.
bool selector_list(const cJSON *value, std::vector<std::string> &out, std::string &error) {
  if (cJSON_IsString(value)) {
    out.emplace_back(value->valuestring);
    return true;
  }
  if (!cJSON_IsArray(value)) {
    error = "expected a selector or an array of selectors";
    return false;
  }
  const cJSON *item = nullptr;
  cJSON_ArrayForEach(item, value) {
    if (!cJSON_IsString(item)) {
      error = "expected an array of selector strings";
      return false;
    }
    out.emplace_back(item->valuestring);
  }
  return true;
}

}  // namespace

class WebSocketOutput final : public Output, public ClientEvents {
 public:
  // The loader refuses this plugin on an agent without these.
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_HTTP, VITALS_SERVICE_HTTP_VERSION),
      vitals::require_service(VITALS_SERVICE_WS, VITALS_SERVICE_WS_VERSION)};
  struct Settings {
    std::string path;
    std::chrono::nanoseconds frame_interval{}, heartbeat{}, slow_client_timeout{};
    int64_t max_clients = 0, max_subscriptions = 0, max_series = 0, max_subscription_sets = 0, match_cache_entries = 0;
    vitals::ByteSize max_client_buffer;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"/api/stream\"", "route of the WebSocket stream"),
      vitals::key("frame_interval", &Settings::frame_interval, "\"20ms\"",
                  "samples arriving within this window go out as one message; 0 sends each batch at once"),
      vitals::key("heartbeat", &Settings::heartbeat, "\"15s\"", "interval of ping frames; 0 turns them off"),
      vitals::key("max_clients", &Settings::max_clients, "1000", "concurrent streams; more are answered 503",
                  vitals::at_least("1")),
      vitals::key("max_client_buffer", &Settings::max_client_buffer, "\"1MiB\"",
                  "a client with more unsent bytes gets coalesced updates, and no more snapshot, until it catches up",
                  vitals::at_least("1")),
      vitals::key("slow_client_timeout", &Settings::slow_client_timeout, "\"10s\"",
                  "a client still behind after this long is disconnected", vitals::at_least("\"1ms\"")),
      vitals::key("max_subscriptions", &Settings::max_subscriptions, "64", "selectors one client may hold",
                  vitals::at_least("1")),
      vitals::key("max_series", &Settings::max_series, "100000", "series whose latest value is kept for snapshots",
                  vitals::at_least("0")),
      vitals::key("max_subscription_sets", &Settings::max_subscription_sets, "256",
                  "distinct selector sets subscribed at once, over all clients; a new one beyond is refused",
                  vitals::at_least("1")),
      vitals::key("match_cache_entries", &Settings::match_cache_entries, "4096",
                  "series whose match result each selector set remembers (16 bytes each)", vitals::at_least("1")));
  static constexpr const char *sample_config = vitals_sample_toml;

  WebSocketOutput(Host host, const Config &config) : WebSocketOutput(host, schema.read(config)) {}
  WebSocketOutput(Host host, const Settings &s)
      : Output(host),
        path_(s.path),
        frame_interval_ms_(ms_of(s.frame_interval.count())),
        heartbeat_ms_(ms_of(s.heartbeat.count())),
        max_clients_(s.max_clients),
        max_client_buffer_(s.max_client_buffer.bytes),
        slow_client_timeout_(s.slow_client_timeout),
        max_subscriptions_(s.max_subscriptions),
        max_series_(s.max_series),
        groups_(static_cast<size_t>(s.max_subscription_sets), static_cast<size_t>(s.match_cache_entries)) {
    if (path_.empty() || path_[0] != '/') throw std::invalid_argument("path: must start with '/'");
    clients_gauge_ = host.metric("vitals_websocket_clients", VITALS_METRIC_GAUGE, "Connected /api/stream clients");
    messages_sent_ = host.metric("vitals_websocket_messages_sent_total", VITALS_METRIC_COUNTER,
                                 "Messages written to WebSocket clients (each client counts)");
    frames_encoded_ = host.metric("vitals_websocket_frames_encoded_total", VITALS_METRIC_COUNTER,
                                  "Live messages encoded (once per distinct subscription set)");
    coalesced_ = host.metric("vitals_websocket_clients_coalesced_total", VITALS_METRIC_COUNTER,
                             "Times a client fell behind and got coalesced updates (max_client_buffer)");
    dropped_slow_ = host.metric("vitals_websocket_clients_dropped_slow_total", VITALS_METRIC_COUNTER,
                                "Clients disconnected for staying behind longer than slow_client_timeout");
    match_cache_bytes_ = host.metric("vitals_websocket_match_cache_bytes", VITALS_METRIC_GAUGE,
                                     "Memory of the selector sets' match caches (match_cache_entries each)");
    rejected_ = host.metric("vitals_websocket_clients_rejected_total", VITALS_METRIC_COUNTER,
                            "Connections answered 503 because max_clients streams were open");
  }
  ~WebSocketOutput() override { close_all(); }

  void start() override {
    try {
      route("GET", path_, 0, [this](const HttpRequest &, HttpResponse response) { accept(response); });
    } catch (const vitals::HttpUnavailable &e) {
      host().warn(std::string(e.what()) + ": websocket streams to nobody");
    }
    if (heartbeat_ms_ > 0) start_timer(heartbeat_ms_, heartbeat_ms_, [this] { heartbeat(); });
  }
  void stop() override { close_all(); }

  Status consume(const BatchView &batch, vitals_ack_t *) override {
    const vitals_batch_t &b = batch.raw();
    for (size_t i = 0; i < b.n_samples; ++i) pending_.push_back({b.series[i], b.ts_ns[i], b.values[i]});
    for (size_t i = 0; i < batch.event_count(); ++i) {
      std::string text;
      event_message(text, batch.event(i));
      pending_events_.push_back(std::move(text));
    }
    // The first batch after a quiet spell goes out at once; later ones
    // within frame_interval wait for the timer and share its message.
    auto now = std::chrono::steady_clock::now();
    if (now - last_flush_ >= std::chrono::milliseconds(frame_interval_ms_)) {
      send_pending();
    } else if (!flush_timer_) {
      flush_timer_ = start_timer(frame_interval_ms_, frame_interval_ms_, [this] { on_flush_timer(); });
    } else if (pending_.size() >= max_pending_samples) {
      send_pending();  // bounded memory under a flood: do not wait for the timer
    }
    return Status::ok;
  }

  void stats(const StatsVisitor &visit) override {
    visit("clients", static_cast<double>(clients_.size()), {});
    visit("latest_series", static_cast<double>(latest_list_.size()), {});
    visit("match_cache_bytes", static_cast<double>(groups_.cache_bytes()), {});
    size_t buffered = 0;
    for (const auto &[key, client] : clients_)
      if (!client->gone && client->ws) buffered += client->ws->buffered();
    visit("buffered_bytes", static_cast<double>(buffered), {});
  }

  // ClientEvents
  void client_message(Client &client, int opcode, std::string_view data) override {
    if (client.gone) return;
    // A send that fails at once reports the client closed: it must not be
    // freed while this call still uses it.
    defer_reap_ = true;
    std::string error;
    if (opcode != VITALS_WS_TEXT || !apply_request(client, data, error)) {
      std::string out;
      error_message(out, opcode != VITALS_WS_TEXT ? "expected a JSON text message" : error);
      send_own(client, out);
    }
    defer_reap_ = false;
    reap();
  }
  void client_closed(Client &client) override {
    client.gone = true;
    if (!defer_reap_) reap();
  }

 private:
  static constexpr size_t max_pending_samples = 65'536;
  // Series a snapshot scans per loop turn, over all clients.
  static constexpr size_t snapshot_series_per_turn = 4096;
  // How often snapshots are looked at while every one waits for its client
  // to drain, instead of every loop turn.
  static constexpr uint64_t snapshot_stalled_ms = 20;

  void accept(const HttpResponse &response) {
    if (static_cast<int64_t>(clients_.size()) >= max_clients_) {
      rejected_.update(1);
      response.header("Retry-After", "5");
      response.error(503, "too many WebSocket clients (max_clients)");
      return;
    }
    auto client = std::make_unique<Client>();
    client->owner = this;
    client->key = ++next_key_;
    std::optional<WebSocket> ws = response.accept_websocket(client.get(), max_request_bytes);
    if (!ws) return;  // the host answered: 400/426 (not a handshake) or 503 (max_streams)
    client->ws = ws;
    Client &added = *client;
    clients_.emplace(added.key, std::move(client));
    clients_gauge_.update(static_cast<double>(clients_.size()));
    std::string hello;
    hello_message(hello, frame_interval_ms_);
    send_own(added, hello);
  }

  // {"subscribe": [...]} / {"unsubscribe": [...]}: applies both or nothing.
  bool apply_request(Client &client, std::string_view data, std::string &error) {
    std::unique_ptr<cJSON, decltype(&cJSON_Delete)> doc(cJSON_ParseWithLength(data.data(), data.size()), cJSON_Delete);
    if (!doc || !cJSON_IsObject(doc.get())) {
      error = "expected a JSON object such as {\"subscribe\":[\"cpu_*\"]}";
      return false;
    }
    std::vector<std::string> add, remove;
    const cJSON *item = nullptr;
    cJSON_ArrayForEach(item, doc.get()) {
      std::string key = item->string ? item->string : "";
      std::string why;
      if (key == "subscribe") {
        if (!selector_list(item, add, why)) return error = "subscribe: " + why, false;
      } else if (key == "unsubscribe") {
        if (!selector_list(item, remove, why)) return error = "unsubscribe: " + why, false;
      } else {
        error = "unknown key \"" + key + "\" (expected subscribe or unsubscribe)";
        return false;
      }
    }
    std::vector<std::string> next;
    for (const auto &s : client.subscriptions)
      if (std::find(remove.begin(), remove.end(), s) == remove.end()) next.push_back(s);
    for (const auto &s : add)
      if (std::find(next.begin(), next.end(), s) == next.end()) next.push_back(s);
    if (static_cast<int64_t>(next.size()) > max_subscriptions_) {
      error = "subscribe: at most " + std::to_string(max_subscriptions_) + " selectors per connection";
      return false;
    }
    // Let go of the client's own set first: the set it moves to may take
    // its place under max_subscription_sets.
    std::shared_ptr<Group> before = std::move(client.group);
    std::shared_ptr<Group> group;
    if (!next.empty()) {
      std::string why;
      group = groups_.get(next, why);
      if (!group) {
        client.group = std::move(before);
        return error = "subscribe: " + why, false;
      }
    }
    client.subscriptions = std::move(next);
    client.group = std::move(group);
    std::string out;
    subscribed_message(out, client.subscriptions);
    send_own(client, out);
    start_snapshot(client, std::move(before));
    return true;
  }

  // Sends the latest value of every series the client now gets and did not
  // before, snapshot_series_per_turn series at a time: matching every known
  // series in one loop turn would stall the loop (many clients, many series).
  void start_snapshot(Client &client, std::shared_ptr<Group> before) {
    // A snapshot still under way was for the previous set, which `before`
    // then only partly covers: compare against nothing, sending too much
    // rather than too little.
    if (client.snapshot) before.reset();
    client.snapshot.reset();
    if (!client.group) return;
    client.snapshot = Snapshot{std::move(before), 0};
    size_t budget = snapshot_series_per_turn;
    continue_snapshot(client, budget);
    if (client.snapshot && !snapshot_timer_) run_snapshot_timer(1);
  }

  void run_snapshot_timer(uint64_t period_ms) {
    if (snapshot_timer_) stop_timer(snapshot_timer_);
    snapshot_timer_ = start_timer(period_ms, period_ms, [this] { on_snapshot_timer(); });
    snapshot_period_ms_ = period_ms;
  }

  // One slice of a client's snapshot, scanning at most `budget` series.
  void continue_snapshot(Client &client, size_t &budget) {
    if (!client.snapshot || !client.group || client.gone) {
      client.snapshot.reset();
      return;
    }
    // A client that does not read its queue gets no more of the snapshot
    // until it does: subscribing again and again must not pile up copies of
    // every series behind it.
    if (over_buffer(client)) return;
    Snapshot &snap = *client.snapshot;
    std::vector<Sample> fresh;
    size_t end = std::min(latest_list_.size(), snap.next + budget);
    for (size_t i = snap.next; i < end; ++i) {
      const Sample &sample = latest_list_[i];
      if (client.group->matches(host(), sample.series) && !(snap.before && snap.before->matches(host(), sample.series)))
        fresh.push_back(sample);
    }
    budget -= end - snap.next;
    snap.next = end;
    std::sort(fresh.begin(), fresh.end(), [](const Sample &a, const Sample &b) { return a.series < b.series; });
    std::string out;
    samples_message(out, "snapshot", fresh, false, [this](SeriesId id) { return series_text(id); });
    if (!out.empty()) send_own(client, out);
    // Series added meanwhile are past the cursor and are sent too.
    if (snap.next >= latest_list_.size()) client.snapshot.reset();
  }

  void on_snapshot_timer() {
    size_t budget = snapshot_series_per_turn;
    bool pending = false;
    defer_reap_ = true;
    for (auto &[key, client] : clients_) {
      if (!client->snapshot) continue;
      if (budget > 0) continue_snapshot(*client, budget);
      pending = pending || client->snapshot.has_value();
    }
    defer_reap_ = false;
    reap();
    if (!pending) {
      stop_timer(snapshot_timer_);
      snapshot_timer_ = 0;
      return;
    }
    // No series was looked at: every snapshot waits for a client to drain.
    uint64_t period = budget == snapshot_series_per_turn ? snapshot_stalled_ms : 1;
    if (period != snapshot_period_ms_) run_snapshot_timer(period);
  }

  void on_flush_timer() {
    if (!send_pending() && !behind_) {
      stop_timer(flush_timer_);
      flush_timer_ = 0;
    }
  }

  // Sends what arrived since the last flush; false if there was nothing.
  bool send_pending() {
    last_flush_ = std::chrono::steady_clock::now();
    bool had_data = !pending_.empty() || !pending_events_.empty();
    defer_reap_ = true;
    if (!pending_.empty()) {
      broadcast_samples();
      for (const Sample &s : pending_) remember_latest(s);
    }
    for (const std::string &text : pending_events_) {
      WsFrame frame = WsFrame::text(host(), text);
      for (auto &[key, client] : clients_) deliver(*client, frame);
    }
    catch_up_slow_clients();
    defer_reap_ = false;
    pending_.clear();
    pending_events_.clear();
    reap();
    match_cache_bytes_.update(static_cast<double>(groups_.cache_bytes()));
    behind_ = any_coalescing();
    if (behind_) watch_slow_clients();
    return had_data;
  }

  // A client that fell behind must be looked at again even if no data comes:
  // to catch it up once it drained, or drop it after slow_client_timeout.
  void watch_slow_clients() {
    behind_ = true;
    if (!flush_timer_)
      flush_timer_ = start_timer(std::max<uint64_t>(frame_interval_ms_, 1), std::max<uint64_t>(frame_interval_ms_, 1),
                                 [this] { on_flush_timer(); });
  }

  // Whether the client has more than max_client_buffer unsent. Whatever put
  // it there (live samples, a snapshot, events, replies), it is then behind:
  // live samples are coalesced, snapshot slices wait, and it is dropped if
  // it stays behind past slow_client_timeout.
  bool over_buffer(Client &client) {
    if (client.gone || !client.ws || client.ws->buffered() <= max_client_buffer_) return false;
    if (!client.coalescing) {
      client.coalescing = true;
      client.slow_since = std::chrono::steady_clock::now();
      coalesced_.update(1);
      watch_slow_clients();
    }
    return true;
  }

  void broadcast_samples() {
    struct Encoded {
      std::vector<Sample> matched;
      WsFrame frame;
    };
    std::unordered_map<Group *, Encoded> by_group;
    for (auto &[key, client] : clients_) {
      if (client->gone || !client->group) continue;
      auto [it, fresh] = by_group.try_emplace(client->group.get());
      Encoded &e = it->second;
      if (fresh) {
        for (const Sample &s : pending_)
          if (client->group->matches(host(), s.series)) e.matched.push_back(s);
        if (!e.matched.empty()) {
          std::string text;
          text.reserve(64 * e.matched.size() + 64);
          samples_message(text, "samples", e.matched, false, [this](SeriesId id) { return series_text(id); });
          e.frame = WsFrame::text(host(), text);
          frames_encoded_.update(1);
        }
      }
      if (e.matched.empty()) continue;
      if (client->coalescing || over_buffer(*client)) {
        for (const Sample &s : e.matched) client->coalesced[s.series] = s;
      } else {
        deliver(*client, e.frame);
      }
    }
  }

  // A coalescing client whose queue drained gets the latest of what it
  // missed in one message; one still behind after slow_client_timeout goes.
  void catch_up_slow_clients() {
    for (auto &[key, client] : clients_) {
      if (client->gone || !client->coalescing) continue;
      if (client->ws->buffered() <= max_client_buffer_ / 2) {
        std::vector<Sample> latest;
        latest.reserve(client->coalesced.size());
        for (const auto &[id, s] : client->coalesced) latest.push_back(s);
        std::sort(latest.begin(), latest.end(), [](const Sample &a, const Sample &b) { return a.series < b.series; });
        std::string text;
        samples_message(text, "samples", latest, true, [this](SeriesId id) { return series_text(id); });
        client->coalescing = false;
        client->coalesced.clear();
        if (!text.empty()) send_own(*client, text);
      } else if (last_flush_ - client->slow_since > slow_client_timeout_) {
        dropped_slow_.update(1);
        host().info("websocket: disconnecting a client that stayed behind for longer than slow_client_timeout");
        client->ws->close(1008, "too slow: the client did not keep up with the stream");
        client->ws.reset();
        client->gone = true;
      }
    }
  }

  bool any_coalescing() const {
    for (const auto &[key, client] : clients_)
      if (client->coalescing && !client->gone) return true;
    return false;
  }

  void heartbeat() {
    WsFrame ping(host(), VITALS_WS_PING, "");
    defer_reap_ = true;
    for (auto &[key, client] : clients_) deliver(*client, ping, false);
    defer_reap_ = false;
    reap();
  }

  // Events, pings and replies still go to a client that is behind (they
  // cannot be coalesced), but count as being behind: slow_client_timeout
  // bounds what they queue, and the core stops reading a client whose
  // replies pile up.
  void deliver(Client &client, const WsFrame &frame, bool count = true) {
    if (client.gone || !client.ws) return;
    over_buffer(client);
    if (client.ws->send(frame) && count) messages_sent_.update(1);
  }

  // A message for this client alone (hello, replies, snapshots).
  void send_own(Client &client, std::string_view text) { deliver(client, WsFrame::text(host(), text)); }

  void remember_latest(const Sample &s) {
    auto it = latest_index_.find(s.series);
    if (it != latest_index_.end()) {
      Sample &current = latest_list_[it->second];
      if (s.ts_ns >= current.ts_ns) current = s;  // a late sample is not the current value
    } else if (static_cast<int64_t>(latest_list_.size()) < max_series_) {
      latest_index_.emplace(s.series, latest_list_.size());
      latest_list_.push_back(s);
    }
  }

  std::string_view series_text(SeriesId id) const {
    const vitals_series_t *s = host().series(id);
    return s && s->text ? s->text : "";
  }

  void reap() {
    for (auto it = clients_.begin(); it != clients_.end();) it = it->second->gone ? clients_.erase(it) : std::next(it);
    clients_gauge_.update(static_cast<double>(clients_.size()));
  }

  void close_all() {
    for (auto &[key, client] : clients_)
      if (client->ws) client->ws->close(1001, "agent stopping");
    clients_.clear();
    clients_gauge_.update(0);
  }

  static constexpr uint32_t max_request_bytes = 64 * 1024;

  std::string path_;
  uint64_t frame_interval_ms_;
  uint64_t heartbeat_ms_;
  int64_t max_clients_;
  size_t max_client_buffer_;
  std::chrono::nanoseconds slow_client_timeout_;
  int64_t max_subscriptions_;
  int64_t max_series_;

  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  GroupTable groups_;
  // The latest value per series, in the order first seen (only ever
  // appended, so a snapshot's cursor into it stays valid across loop turns).
  std::vector<Sample> latest_list_;
  std::unordered_map<SeriesId, size_t> latest_index_;  // series -> position in latest_list_
  uint64_t snapshot_timer_ = 0;
  uint64_t snapshot_period_ms_ = 1;
  std::vector<Sample> pending_;
  std::vector<std::string> pending_events_;
  SteadyTime last_flush_{};
  uint64_t flush_timer_ = 0;
  bool behind_ = false;  // some client was coalescing at the end of the last send_pending()
  uint64_t next_key_ = 0;
  bool defer_reap_ = false;  // clients are being walked or used: reap() must wait
  Metric clients_gauge_, messages_sent_, frames_encoded_, coalesced_, dropped_slow_, rejected_, match_cache_bytes_;
};

}  // namespace vitals::websocket

VITALS_PLUGIN(vitals::websocket::WebSocketOutput, "websocket", "1.0.0",
              "Streams live samples and events over WebSocket with per-client subscriptions by selector")
