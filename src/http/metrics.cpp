#include "http/metrics.hpp"

#include <atomic>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

namespace parley::http {

namespace {

struct Histogram {
    std::array<std::uint64_t, Metrics::kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
};

std::string key3(std::string_view a, std::string_view b, std::string_view c) {
    std::string k;
    k.reserve(a.size() + b.size() + c.size() + 2);
    k.append(a).push_back('\x1f');
    k.append(b).push_back('\x1f');
    k.append(c);
    return k;
}

std::vector<std::string_view> split_key(std::string_view k) {
    std::vector<std::string_view> out;
    while (true) {
        const auto p = k.find('\x1f');
        out.push_back(k.substr(0, p));
        if (p == std::string_view::npos) {
            return out;
        }
        k.remove_prefix(p + 1);
    }
}

// Escapes a label value for the exposition format.
std::string label(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

struct Metrics::Shard {
    std::mutex mutex;
    std::unordered_map<std::string, std::uint64_t> requests;  // route, method, status
    std::unordered_map<std::string, Histogram> latency;       // route, method
    std::unordered_map<std::string, double> counters;         // name, labels
};

Metrics::Metrics() {
    for (std::size_t i = 0; i < kShards; ++i) {
        shards_.push_back(std::make_unique<Shard>());
    }
}

Metrics::~Metrics() = default;

Metrics::Shard& Metrics::shard() const {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t index = next.fetch_add(1) % kShards;
    return *shards_[index];
}

void Metrics::observe_request(
    std::string_view route, std::string_view method, int status, double seconds
) {
    auto& s = shard();
    char status_text[8];
    const auto n = fmt::format_to_n(status_text, sizeof status_text, "{}", status).size;
    const std::lock_guard lock(s.mutex);
    ++s.requests[key3(route, method, std::string_view(status_text, n))];
    auto& h = s.latency[key3(route, method, {})];
    ++h.count;
    h.sum += seconds;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) {
            ++h.buckets[i];
        }
    }
}

void Metrics::add_gauge(std::string name, std::string help, std::function<double()> sample) {
    gauges_.push_back({std::move(name), std::move(help), std::move(sample)});
}

void Metrics::describe_counter(std::string name, std::string help) {
    counter_help_.emplace_back(std::move(name), std::move(help));
}

void Metrics::add_counter(std::string_view name, std::string_view labels, double amount) {
    auto& s = shard();
    const std::lock_guard lock(s.mutex);
    s.counters[key3(name, labels, {})] += amount;
}

std::string Metrics::render() const {
    std::map<std::string, std::uint64_t> requests;
    std::map<std::string, Histogram> latency;
    std::map<std::string, double> counters;
    for (const auto& s : shards_) {
        const std::lock_guard lock(s->mutex);
        for (const auto& [k, v] : s->requests) {
            requests[k] += v;
        }
        for (const auto& [k, v] : s->latency) {
            auto& h = latency[k];
            h.count += v.count;
            h.sum += v.sum;
            for (std::size_t i = 0; i < kBuckets.size(); ++i) {
                h.buckets[i] += v.buckets[i];
            }
        }
        for (const auto& [k, v] : s->counters) {
            counters[k] += v;
        }
    }

    std::string out;
    auto it = std::back_inserter(out);
    fmt::format_to(
        it,
        "# HELP parley_http_requests_total HTTP requests by route template, method and status.\n"
    );
    fmt::format_to(it, "# TYPE parley_http_requests_total counter\n");
    for (const auto& [k, v] : requests) {
        const auto p = split_key(k);
        fmt::format_to(
            it,
            "parley_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
            label(p[0]),
            label(p[1]),
            p[2],
            v
        );
    }
    fmt::format_to(
        it,
        "# HELP parley_http_request_duration_seconds Time from request read to response ready.\n"
    );
    fmt::format_to(it, "# TYPE parley_http_request_duration_seconds histogram\n");
    for (const auto& [k, h] : latency) {
        const auto p = split_key(k);
        const auto labels = fmt::format("route=\"{}\",method=\"{}\"", label(p[0]), label(p[1]));
        for (std::size_t i = 0; i < kBuckets.size(); ++i) {
            fmt::format_to(
                it,
                "parley_http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n",
                labels,
                kBuckets[i],
                h.buckets[i]
            );
        }
        fmt::format_to(
            it,
            "parley_http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n",
            labels,
            h.count
        );
        fmt::format_to(it, "parley_http_request_duration_seconds_sum{{{}}} {}\n", labels, h.sum);
        fmt::format_to(
            it, "parley_http_request_duration_seconds_count{{{}}} {}\n", labels, h.count
        );
    }
    for (const auto& [name, help] : counter_help_) {
        fmt::format_to(it, "# HELP {} {}\n# TYPE {} counter\n", name, help, name);
        for (const auto& [k, v] : counters) {
            const auto p = split_key(k);
            if (p[0] != name) {
                continue;
            }
            if (p[1].empty()) {
                fmt::format_to(it, "{} {}\n", name, v);
            } else {
                fmt::format_to(it, "{}{{{}}} {}\n", name, p[1], v);
            }
        }
    }
    for (const auto& g : gauges_) {
        fmt::format_to(
            it, "# HELP {} {}\n# TYPE {} gauge\n{} {}\n", g.name, g.help, g.name, g.name, g.sample()
        );
    }
    return out;
}

}  // namespace parley::http
