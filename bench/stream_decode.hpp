// Incremental decoding for the streaming benchmark's load generator: an HTTP/1.x response
// decoder (head, then a chunked, Content-Length or close-delimited body) and an SSE scanner that
// counts content deltas and times them. No I/O and no Boost: the generator feeds them the bytes of
// each read with the time it completed.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::bench {

using Clock = std::chrono::steady_clock;

// Incremental SSE scanner for one response body. Counts content deltas only: OpenAI chunks whose
// delta carries a non-empty "content" string, and Anthropic text_delta events. Timestamps are
// those of the read that delivered the line.
class SseScanner {
public:
    SseScanner(Clock::time_point sent, Clock::duration stall, std::vector<std::int64_t>& gaps)
        : sent_(sent),
          stall_(stall),
          gaps_(gaps) {}

    void feed(std::string_view data, Clock::time_point now) {
        while (!data.empty()) {
            const auto nl = data.find('\n');
            if (nl == std::string_view::npos) {
                partial_.append(data);
                return;
            }
            if (partial_.empty()) {
                on_line(data.substr(0, nl), now);
            } else {
                partial_.append(data.substr(0, nl));
                on_line(partial_, now);
                partial_.clear();
            }
            data.remove_prefix(nl + 1);
        }
    }

    int deltas() const { return deltas_; }

    bool finished() const { return finished_; }

    bool failed() const { return failed_; }

    bool stalled() const { return stalled_; }

    std::int64_t ttft_ns() const { return ttft_ns_; }

    std::int64_t max_gap_ns() const { return max_gap_ns_; }

private:
    static bool is_openai_content(std::string_view d) {
        // Only inside the delta: other members (Parley's own "parley" object) are not content.
        const auto delta = d.find(R"("delta":)");
        if (delta == std::string_view::npos) {
            return false;
        }
        constexpr std::string_view kKey = R"("content":)";
        for (auto pos = d.find(kKey, delta); pos != std::string_view::npos;
             pos = d.find(kKey, pos + 1)) {
            auto v = pos + kKey.size();
            while (v < d.size() && d[v] == ' ') {
                ++v;
            }
            if (v + 1 < d.size() && d[v] == '"' && d[v + 1] != '"') {
                return true;
            }
        }
        return false;
    }

    // OpenAI-style `{"error": {...}}` (Parley's too) or Anthropic's `{"type":"error",...}`.
    static bool is_error(std::string_view d) {
        return d.find(R"("error":{)") != std::string_view::npos ||
               d.find(R"("type":"error")") != std::string_view::npos;
    }

    void on_line(std::string_view line, Clock::time_point now) {
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.starts_with("event:")) {
            if (line.find("error") != std::string_view::npos) {
                failed_ = true;
            }
            return;
        }
        if (!line.starts_with("data:")) {
            return;
        }
        auto d = line.substr(5);
        if (d.starts_with(' ')) {
            d.remove_prefix(1);
        }
        if (d == "[DONE]" || d.find(R"("message_stop")") != std::string_view::npos) {
            finished_ = true;
        } else if (d.find(R"("content_block_delta")") != std::string_view::npos) {
            if (d.find(R"("text_delta")") != std::string_view::npos) {
                on_delta(now);
            }
        } else if (is_openai_content(d)) {
            on_delta(now);
        } else if (is_error(d)) {
            failed_ = true;
        }
    }

    void on_delta(Clock::time_point now) {
        if (deltas_ == 0) {
            ttft_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_).count();
        } else {
            const auto gap = now - last_;
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(gap).count();
            gaps_.push_back(ns);
            max_gap_ns_ = std::max(max_gap_ns_, ns);
            stalled_ = stalled_ || gap > stall_;
        }
        last_ = now;
        ++deltas_;
    }

    Clock::time_point sent_;
    Clock::duration stall_;
    std::vector<std::int64_t>& gaps_;
    std::string partial_;
    Clock::time_point last_{};
    int deltas_ = 0;
    bool finished_ = false;
    bool failed_ = false;
    bool stalled_ = false;
    std::int64_t ttft_ns_ = -1;
    std::int64_t max_gap_ns_ = 0;
};

// Incremental decoder of one HTTP/1.x response: the head, then a chunked, Content-Length or
// close-delimited body whose bytes go to a callback as they arrive. Much cheaper per read than
// Beast's parser with a buffer_body, which matters with thousands of streams on two cores.
class ResponseDecoder {
public:
    bool done() const { return state_ == State::done; }

    bool malformed() const { return state_ == State::malformed; }

    int status() const { return status_; }

    bool keep_alive() const { return keep_alive_; }

    // The connection reached end of file: the end of a close-delimited body, else a truncation
    // (the state stays unfinished).
    void on_eof() {
        if (state_ == State::until_close) {
            state_ = State::done;
            keep_alive_ = false;
        }
    }

    // Consumes `data` up to the end of the response; passes body bytes to `on_body`.
    template <class OnBody>
    void feed(std::string_view data, OnBody&& on_body) {
        while (!data.empty() && state_ != State::done && state_ != State::malformed) {
            switch (state_) {
                case State::head: {
                    const std::size_t from = line_.size() < 3 ? 0 : line_.size() - 3;
                    line_.append(data);
                    const auto end = line_.find("\r\n\r\n", from);
                    if (end == std::string::npos) {
                        if (line_.size() > 65536) {
                            state_ = State::malformed;
                        }
                        return;
                    }
                    const std::size_t extra = line_.size() - (end + 4);
                    data = data.substr(data.size() - extra);
                    line_.resize(end + 2);
                    parse_head();
                    line_.clear();
                    break;
                }
                case State::chunk_size:
                case State::chunk_crlf:
                case State::trailer: {
                    const auto nl = data.find('\n');
                    line_.append(data.substr(0, nl));
                    if (nl == std::string_view::npos) {
                        if (line_.size() > 4096) {
                            state_ = State::malformed;
                        }
                        return;
                    }
                    data.remove_prefix(nl + 1);
                    on_chunk_line();
                    line_.clear();
                    break;
                }
                case State::chunk_data:
                case State::length: {
                    const auto n =
                        static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
                    on_body(data.substr(0, n));
                    data.remove_prefix(n);
                    remaining_ -= n;
                    if (remaining_ == 0) {
                        state_ = state_ == State::length ? State::done : State::chunk_crlf;
                    }
                    break;
                }
                case State::until_close:
                    on_body(data);
                    return;
                case State::done:
                case State::malformed:
                    return;
            }
        }
    }

private:
    enum class State {
        head,
        chunk_size,
        chunk_data,
        chunk_crlf,
        trailer,
        length,
        until_close,
        done,
        malformed
    };

    static bool iequals(std::string_view a, std::string_view b) {
        return a.size() == b.size() &&
               std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) ==
                          std::tolower(static_cast<unsigned char>(y));
               });
    }

    static bool icontains(std::string_view text, std::string_view word) {
        for (std::size_t i = 0; i + word.size() <= text.size(); ++i) {
            if (iequals(text.substr(i, word.size()), word)) {
                return true;
            }
        }
        return false;
    }

    // line_ holds the head, each line ending in CRLF.
    void parse_head() {
        std::string_view head = line_;
        const auto first_end = head.find("\r\n");
        const std::string_view status_line = head.substr(0, first_end);
        // "HTTP/1.1 200 OK"
        if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
            state_ = State::malformed;
            return;
        }
        keep_alive_ = status_line[7] == '1';
        const auto code = status_line.substr(9, 3);
        if (std::from_chars(code.data(), code.data() + 3, status_).ec != std::errc{}) {
            state_ = State::malformed;
            return;
        }
        bool chunked = false;
        std::optional<std::uint64_t> length;
        head.remove_prefix(first_end + 2);
        while (!head.empty()) {
            const auto end = head.find("\r\n");
            const std::string_view line = head.substr(0, end);
            head.remove_prefix(end + 2);
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) {
                continue;
            }
            const auto name = line.substr(0, colon);
            auto value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') {
                value.remove_prefix(1);
            }
            if (iequals(name, "transfer-encoding")) {
                chunked = icontains(value, "chunked");
            } else if (iequals(name, "content-length")) {
                std::uint64_t n = 0;
                if (std::from_chars(value.data(), value.data() + value.size(), n).ec ==
                    std::errc{}) {
                    length = n;
                }
            } else if (iequals(name, "connection")) {
                if (icontains(value, "close")) {
                    keep_alive_ = false;
                } else if (icontains(value, "keep-alive")) {
                    keep_alive_ = true;
                }
            }
        }
        if (status_ == 204 || status_ == 304 || (status_ >= 100 && status_ < 200)) {
            state_ = State::done;  // no body (1xx are not expected from a POST without Expect)
        } else if (chunked) {
            state_ = State::chunk_size;
        } else if (length) {
            remaining_ = *length;
            state_ = remaining_ == 0 ? State::done : State::length;
        } else {
            state_ = State::until_close;
        }
    }

    void on_chunk_line() {
        std::string_view line = line_;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (state_ == State::chunk_crlf) {
            state_ = line.empty() ? State::chunk_size : State::malformed;
        } else if (state_ == State::trailer) {
            if (line.empty()) {
                state_ = State::done;
            }
        } else {
            std::uint64_t size = 0;
            const auto [ptr, ec] =
                std::from_chars(line.data(), line.data() + line.size(), size, 16);
            if (ec != std::errc{}) {
                state_ = State::malformed;
            } else if (size == 0) {
                state_ = State::trailer;
            } else {
                remaining_ = size;
                state_ = State::chunk_data;
            }
        }
    }

    State state_ = State::head;
    std::string line_;
    std::uint64_t remaining_ = 0;
    int status_ = 0;
    bool keep_alive_ = true;
};

}  // namespace parley::bench
