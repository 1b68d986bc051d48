// Output `sse`: live samples and events as Server-Sent Events on GET
// /api/events, with ids, heartbeats and resume from a replay ring.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sample_toml.h"
#include "sse_frames.hpp"
#include "vitals/plugin.hpp"
#include "vitals/selector.hpp"
#include "vitals/settings.hpp"

namespace vitals::sse {

class Sse final : public Output {
 public:
  // The loader refuses this plugin on an agent without these.
  static constexpr vitals_service_ref_t required_services[] = {
      vitals::require_service(VITALS_SERVICE_HTTP, VITALS_SERVICE_HTTP_VERSION)};
  struct Settings {
    std::string path;
    std::chrono::nanoseconds heartbeat{};
    int64_t replay_buffer = 0, max_clients = 0;
    vitals::ByteSize replay_buffer_bytes, max_client_buffer;
  };
  static constexpr auto schema = vitals::settings<Settings>(
      vitals::key("path", &Settings::path, "\"/api/events\"", "route of the event stream"),
      vitals::key("heartbeat", &Settings::heartbeat, "\"15s\"", "interval of `: ping` comments; 0 turns them off"),
      vitals::key("replay_buffer", &Settings::replay_buffer, "1000",
                  "events kept for clients resuming with Last-Event-ID", vitals::at_least("0")),
      vitals::key("replay_buffer_bytes", &Settings::replay_buffer_bytes, "\"64MiB\"",
                  "memory the replay events may hold, frames cached for them included; the oldest go first",
                  vitals::at_least("1")),
      vitals::key("max_client_buffer", &Settings::max_client_buffer, "\"4MiB\"",
                  "a client with more unsent bytes than this is disconnected", vitals::at_least("1")),
      vitals::key("max_clients", &Settings::max_clients, "1000", "concurrent streams; more are answered 503",
                  vitals::at_least("1")));
  static constexpr const char *sample_config = vitals_sample_toml;

  Sse(Host host, const Config &config) : Sse(host, schema.read(config)) {}
  Sse(Host host, const Settings &s)
      : Output(host),
        path_(s.path),
        heartbeat_ms_(static_cast<uint64_t>(s.heartbeat.count() / 1'000'000)),
        max_client_buffer_(s.max_client_buffer.bytes),
        max_clients_(s.max_clients),
        // A frame at most a quarter of a client's buffer: a batch that would
        // make a larger one is split into several events.
        ring_(static_cast<size_t>(s.replay_buffer), s.replay_buffer_bytes.bytes,
              std::max<size_t>(max_client_buffer_ / 4, 1)) {
    if (path_.empty() || path_[0] != '/') throw std::invalid_argument("path: must start with '/'");
    clients_gauge_ = host.metric("vitals_sse_clients", VITALS_METRIC_GAUGE, "Connected event-stream clients");
    events_sent_ = host.metric("vitals_sse_events_sent_total", VITALS_METRIC_COUNTER, "SSE events written to clients");
    dropped_slow_ = host.metric("vitals_sse_clients_dropped_slow_total", VITALS_METRIC_COUNTER,
                                "Clients disconnected for not reading fast enough (max_client_buffer)");
    replay_bytes_ = host.metric("vitals_sse_replay_bytes", VITALS_METRIC_GAUGE,
                                "Memory held by the replay ring (replay_buffer_bytes bounds it)");
    rejected_ = host.metric("vitals_sse_clients_rejected_total", VITALS_METRIC_COUNTER,
                            "Connections answered 503 because max_clients streams were open");
  }
  ~Sse() override { end_all(); }

  void start() override {
    try {
      route("GET", path_, 0, [this](const HttpRequest &request, HttpResponse response) { accept(request, response); });
    } catch (const vitals::HttpUnavailable &e) {
      // Without an HTTP server there is no one to stream to, but the rest of
      // the pipeline runs on; a route another component owns stays an error.
      host().warn(std::string(e.what()) + ": sse streams to nobody");
    }
    if (heartbeat_ms_ > 0) start_timer(heartbeat_ms_, heartbeat_ms_, [this] { heartbeat(); });
  }
  void stop() override { end_all(); }

  Status consume(const BatchView &batch, vitals_ack_t *) override {
    std::vector<RingEvent *> added = ring_.add(host(), batch);
    if (!added.empty() && !clients_.empty()) broadcast(added);
    ring_.trim();
    replay_bytes_.update(static_cast<double>(ring_.bytes()));
    return Status::ok;
  }

  void stats(const StatsVisitor &visit) override {
    visit("clients", static_cast<double>(clients_.size()), {});
    visit("replay_events", static_cast<double>(ring_.size()), {});
    visit("replay_bytes", static_cast<double>(ring_.bytes()), {});
    visit("last_event_id", static_cast<double>(ring_.next_id() - 1), {});
  }

 private:
  struct Client {
    Sse *owner;
    uint64_t key;
    HttpResponse response;
    std::shared_ptr<Subscription> subscription;
    bool gone = false;
  };

  void accept(const HttpRequest &request, const HttpResponse &response) {
    if (static_cast<int64_t>(clients_.size()) >= max_clients_) {
      rejected_.update(1);
      response.header("Retry-After", "5");
      response.error(503, "too many event-stream clients (max_clients)");
      return;
    }
    std::string error;
    std::shared_ptr<Subscription> sub = subscription(request.param("match").value_or(""), error);
    if (!sub) {
      response.error(400, "match: " + error);
      return;
    }
    std::string last_text(request.header("last-event-id"));
    if (last_text.empty()) last_text = request.param("last_event_id").value_or("");
    uint64_t last_id = 0;
    bool resume = !last_text.empty();
    if (resume) {
      auto [end, ec] = std::from_chars(last_text.data(), last_text.data() + last_text.size(), last_id);
      if (ec != std::errc() || end != last_text.data() + last_text.size()) {
        response.error(400, "Last-Event-ID: expected an event id (a non-negative integer), got '" + last_text + "'");
        return;
      }
    }
    response.header("Cache-Control", "no-cache");
    response.header("X-Accel-Buffering", "no");  // keeps nginx from holding events back
    if (!response.stream_start(200, "text/event-stream")) {
      response.stream_end();
      return;
    }
    auto client = std::make_unique<Client>(Client{this, ++next_client_key_, response, std::move(sub)});
    if (resume && !replay(*client, last_id)) {
      client->response.stream_end();
      return;
    }
    Client &added = *client;
    clients_.emplace(client->key, std::move(client));
    clients_gauge_.update(static_cast<double>(clients_.size()));
    // Last: it runs client_closed at once if the client already left.
    added.response.on_close(&Sse::client_closed, &added);
  }

  // Sends what a client resuming after last_id missed; false if it is gone.
  bool replay(Client &client, uint64_t last_id) {
    std::string out;
    size_t frames = 0;
    uint64_t oldest = ring_.oldest_id();
    if (last_id >= ring_.next_id()) {
      // An id this stream never gave out: the agent restarted since.
      out += reset_frame("unknown id", oldest);
      last_id = 0;
    } else if (last_id + 1 < oldest) {
      out += reset_frame("gap too old", oldest);
    }
    ring_.for_each_after(last_id,
                         [&](RingEvent &e) { frames += ring_.append_frame(e, host(), *client.subscription, out); });
    if (out.empty()) return true;
    if (!client.response.stream_write(out)) return false;
    events_sent_.update(static_cast<double>(frames));
    return true;
  }

  // Writes the batch's events to every client, each encoding done once per distinct match.
  void broadcast(const std::vector<RingEvent *> &added) {
    struct Payload {
      std::string bytes;
      size_t frames = 0;
    };
    std::unordered_map<Subscription *, Payload> payloads;
    broadcasting_ = true;
    for (auto &[key, client] : clients_) {
      if (client->gone) continue;
      auto [it, fresh] = payloads.try_emplace(client->subscription.get());
      Payload &p = it->second;
      if (fresh)
        for (RingEvent *e : added) p.frames += ring_.append_frame(*e, host(), *client->subscription, p.bytes);
      if (!p.bytes.empty()) send(*client, p.bytes, p.frames);
    }
    broadcasting_ = false;
    reap();
  }

  void heartbeat() {
    broadcasting_ = true;
    for (auto &[key, client] : clients_)
      if (!client->gone) send(*client, ": ping\n\n", 0);
    broadcasting_ = false;
    reap();
  }

  void send(Client &client, std::string_view bytes, size_t frames) {
    if (!client.response.stream_write(bytes)) {
      client.gone = true;
      return;
    }
    events_sent_.update(static_cast<double>(frames));
    // What this write added does not count: a batch larger than the buffer
    // must not drop a client that reads. A client that has not read what was
    // written before, beyond max_client_buffer, is not keeping up.
    size_t buffered = client.response.stream_buffered();
    if (buffered > bytes.size() && buffered - bytes.size() > max_client_buffer_) {
      dropped_slow_.update(1);
      host().info("sse: disconnecting a client that did not keep up (max_client_buffer)");
      client.gone = true;
    }
  }

  static void client_closed(void *user) {
    auto *client = static_cast<Client *>(user);
    client->gone = true;
    if (!client->owner->broadcasting_) client->owner->reap();
  }

  // Finishes and forgets the clients marked gone.
  void reap() {
    for (auto it = clients_.begin(); it != clients_.end();) {
      if (it->second->gone) {
        it->second->response.stream_end();
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = subscriptions_.begin(); it != subscriptions_.end();)
      it = it->second.expired() ? subscriptions_.erase(it) : std::next(it);
    clients_gauge_.update(static_cast<double>(clients_.size()));
  }

  void end_all() {
    for (auto &[key, client] : clients_) client->gone = true;
    reap();
  }

  std::shared_ptr<Subscription> subscription(const std::string &text, std::string &error) {
    if (auto it = subscriptions_.find(text); it != subscriptions_.end())
      if (auto sub = it->second.lock()) return sub;
    Selector selector;
    if (!Selector::parse(text, selector, error)) return nullptr;
    auto sub = std::make_shared<Subscription>(text, std::move(selector));
    subscriptions_[text] = sub;
    return sub;
  }

  std::string path_;
  uint64_t heartbeat_ms_;
  size_t max_client_buffer_;
  int64_t max_clients_;
  ReplayRing ring_;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  std::unordered_map<std::string, std::weak_ptr<Subscription>> subscriptions_;
  uint64_t next_client_key_ = 0;
  bool broadcasting_ = false;
  Metric clients_gauge_, events_sent_, dropped_slow_, rejected_, replay_bytes_;
};

}  // namespace vitals::sse

VITALS_PLUGIN(vitals::sse::Sse, "sse", "1.0.0",
              "Streams live samples and events as Server-Sent Events, resumable with Last-Event-ID")
