// Prometheus metrics: request counts by route template, method and status, a latency histogram by
// route and method, and gauges other layers register (active connections, streams, …). Recording
// is sharded by thread so that I/O threads do not contend; rendering merges the shards.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace parley::http {

class Metrics {
public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Records one finished request. `route` is the matched template (or "unmatched"). Thread-safe.
    void observe_request(
        std::string_view route, std::string_view method, int status, double seconds
    );

    // Adds a gauge sampled at render time. Register at start-up, before serving.
    void add_gauge(std::string name, std::string help, std::function<double()> sample);

    // Adds to a labelled counter, e.g. add_counter("parley_upstream_errors_total",
    // "provider=\"groq\"", 1). The name must have been described with describe_counter.
    // Thread-safe.
    void add_counter(std::string_view name, std::string_view labels, double amount);

    void describe_counter(std::string name, std::string help);

    // The exposition text (text/plain; version=0.0.4).
    std::string render() const;

    static constexpr std::array<double, 14> kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

private:
    struct Shard;
    Shard& shard() const;

    static constexpr std::size_t kShards = 16;
    std::vector<std::unique_ptr<Shard>> shards_;

    struct Gauge {
        std::string name;
        std::string help;
        std::function<double()> sample;
    };

    std::vector<Gauge> gauges_;
    std::vector<std::pair<std::string, std::string>> counter_help_;
};

}  // namespace parley::http
