#include "net/sse_parser.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <utility>

namespace parley::net {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Buffers that grew past this for one large line or event are given back after use, so a
// long-lived stream holds memory for what it usually carries, not for its largest event.
constexpr std::size_t kKeepCapacity = std::size_t{64} << 10;

void release_if_large(std::string& buffer) {
    if (buffer.capacity() > kKeepCapacity) {
        std::string().swap(buffer);
    }
}

bool is_ascii(std::string_view s) noexcept {
    std::uint64_t bits = 0;
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, s.data() + i, 8);
        bits |= word;
    }
    for (; i < s.size(); ++i) {
        bits |= static_cast<unsigned char>(s[i]);
    }
    return (bits & 0x8080808080808080ULL) == 0;
}

// The WHATWG Encoding "UTF-8 decoder" over `s`: each maximal ill-formed subsequence becomes one
// U+FFFD, and the byte that ended it is decoded afresh. Returns whether `s` was well-formed; with
// `out` null it stops at the first error, otherwise it appends the decoded text to `out`. Decoding
// line by line equals decoding the stream, since CR and LF end any incomplete sequence anyway.
bool decode_utf8(std::string_view s, std::string* out) {
    const auto byte = [&](std::size_t i) {
        return static_cast<unsigned char>(s[i]);
    };
    bool valid = true;
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char lead = byte(i);
        if (lead < 0x80) {
            if (out != nullptr) {
                out->push_back(s[i]);
            }
            ++i;
            continue;
        }
        std::size_t needed = 0;
        unsigned char lower = 0x80;
        unsigned char upper = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            needed = 1;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            needed = 2;
            lower = lead == 0xE0 ? 0xA0 : lower;  // no overlongs
            upper = lead == 0xED ? 0x9F : upper;  // no surrogates
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            needed = 3;
            lower = lead == 0xF0 ? 0x90 : lower;  // no overlongs
            upper = lead == 0xF4 ? 0x8F : upper;  // nothing past U+10FFFF
        }
        std::size_t end = i + 1;
        std::size_t seen = 0;
        while (seen < needed && end < s.size() && byte(end) >= lower && byte(end) <= upper) {
            lower = 0x80;
            upper = 0xBF;
            ++end;
            ++seen;
        }
        if (needed != 0 && seen == needed) {
            if (out != nullptr) {
                out->append(s.substr(i, end - i));
            }
        } else {
            valid = false;
            if (out == nullptr) {
                return false;
            }
            out->append(kReplacement);
        }
        i = end;
    }
    return valid;
}

// `s` as the spec's decoder would give it: `s` itself when well-formed, else a copy in `scratch`.
std::string_view decoded(std::string_view s, std::string& scratch) {
    if (is_ascii(s) || decode_utf8(s, nullptr)) {
        return s;
    }
    scratch.clear();
    decode_utf8(s, &scratch);
    return scratch;
}

// A `retry:` value: ASCII digits only (the spec), and it must fit an int (ours).
std::optional<int> parse_retry(std::string_view value) noexcept {
    if (value.empty()) {
        return std::nullopt;
    }
    int ms = 0;
    for (const char c : value) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        const int digit = c - '0';
        if (ms > (INT_MAX - digit) / 10) {
            return std::nullopt;
        }
        ms = ms * 10 + digit;
    }
    return ms;
}

}  // namespace

SseParser::SseParser(std::size_t max_size) : max_size_(max_size) {}

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
    const std::span<const SseEvent> events = next(bytes);
    return {events.begin(), events.end()};
}

std::span<const SseEvent> SseParser::next(std::string_view bytes) {
    for (std::size_t i = 0; i < ready_; ++i) {
        release_if_large(events_[i].data);
    }
    ready_ = 0;
    if (failed()) {
        return {};
    }
    if (at_start_) {
        // The decoder drops one BOM at the very start; it may arrive a byte at a time.
        const auto bom_continues = [&] {
            return !bytes.empty() && bom_matched_ < kBom.size() &&
                   bytes.front() == kBom[bom_matched_];
        };
        while (bom_continues()) {
            ++bom_matched_;
            bytes.remove_prefix(1);
        }
        if (bom_matched_ < kBom.size() && bytes.empty()) {
            return {};
        }
        at_start_ = false;
        if (bom_matched_ < kBom.size()) {
            consume(kBom.substr(0, bom_matched_));
        }
    }
    consume(bytes);
    return {events_.data(), ready_};
}

void SseParser::consume(std::string_view bytes) {
    const char* base = bytes.data();
    const std::size_t n = bytes.size();
    std::size_t pos = 0;
    if (skip_lf_ && n > 0) {
        skip_lf_ = false;
        if (base[0] == '\n') {
            pos = 1;
        }
    }
    if (pos >= n) {
        return;
    }
    // The next LF and the next CR are each found with memchr and remembered until passed: CR is
    // rare in most streams, so its search usually runs once per feed.
    const auto find = [&](char c, std::size_t from) {
        const void* hit = std::memchr(base + from, c, n - from);
        return hit == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(hit) - base);
    };
    std::size_t next_lf = find('\n', pos);
    std::size_t next_cr = find('\r', pos);
    while (pos < n) {
        if (next_lf < pos) {
            next_lf = find('\n', pos);
        }
        if (next_cr < pos) {
            next_cr = find('\r', pos);
        }
        const std::size_t eol = std::min(next_lf, next_cr);
        if (eol == n) {
            if (line_.size() + (n - pos) > max_size_) {
                fail("SSE line longer than " + std::to_string(max_size_) + " bytes");
                return;
            }
            line_.append(base + pos, n - pos);
            return;
        }
        std::string_view line(base + pos, eol - pos);
        const bool carried = !line_.empty();
        if (!carried && single_data_event(line, base, eol, n)) {
            pos = eol + 2;
            continue;
        }
        if (line_.size() + line.size() > max_size_) {
            fail("SSE line longer than " + std::to_string(max_size_) + " bytes");
            return;
        }
        if (carried) {
            line_.append(line);
            line = line_;
        }
        process_line(line);
        if (failed()) {
            return;
        }
        if (carried) {
            line_.clear();
            release_if_large(line_);
        }
        pos = eol + 1;
        if (base[eol] == '\r') {
            if (pos == n) {
                skip_lf_ = true;
            } else if (base[pos] == '\n') {
                ++pos;
            }
        }
    }
}

bool SseParser::single_data_event(
    std::string_view line, const char* base, std::size_t eol, std::size_t n
) {
    // What process_line would do for a `data:` line that ends with LF and is followed by a blank
    // line (LF), with no field pending before it: an event of that one line, dispatched at once
    // (issue 14: nearly every event of a provider's stream; its data is copied once, not into
    // the data buffer and out again).
    if (fields_pending_ || line.size() > max_size_ || base[eol] != '\n' || eol + 1 >= n ||
        base[eol + 1] != '\n' || !line.starts_with("data:")) {
        return false;
    }
    std::string_view value = line.substr(5);
    if (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);
    }
    value = decoded(value, scratch_);
    if (value.size() > max_size_) {
        return false;  // process_line fails the parser
    }
    emit(value);
    release_if_large(scratch_);
    return true;
}

void SseParser::emit(std::string_view data) {
    if (ready_ == events_.size()) {
        events_.emplace_back();
    }
    SseEvent& event = events_[ready_++];
    event.named = !event_type_.empty();
    const std::string_view type = event.named ? std::string_view(event_type_) : "message";
    if (event.event != type) {
        event.event = type;  // the storage is reused: most events repeat the type before them
    }
    event.data.assign(data);
    event.id = last_event_id_;
}

void SseParser::process_line(std::string_view line) {
    if (line.empty()) {
        dispatch();
        return;
    }
    if (line.front() == ':') {
        ++comments_;
        return;
    }
    fields_pending_ = true;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        process_field(line, {});
        return;
    }
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);
    }
    process_field(line.substr(0, colon), value);
}

void SseParser::process_field(std::string_view field, std::string_view value) {
    // Field names are compared as bytes: one holding malformed UTF-8 matches no known name before
    // or after decoding, so only the values that are kept need decoding.
    if (field == "data") {
        value = decoded(value, scratch_);
        // data_ holds a "\n" per line; the last one is stripped at dispatch.
        if (data_.size() + value.size() > max_size_) {
            fail("SSE event data longer than " + std::to_string(max_size_) + " bytes");
            return;
        }
        data_.append(value);
        data_.push_back('\n');
    } else if (field == "event") {
        value = decoded(value, scratch_);
        if (value.size() > max_size_) {  // U+FFFD is 3 bytes: decoding can grow a value
            fail("SSE event type longer than " + std::to_string(max_size_) + " bytes");
            return;
        }
        event_type_.assign(value);
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) {
            value = decoded(value, scratch_);
            if (value.size() > max_size_) {
                fail("SSE event id longer than " + std::to_string(max_size_) + " bytes");
                return;
            }
            id_buffer_.assign(value);
            id_dirty_ = true;
        }
    } else if (field == "retry") {
        if (const auto ms = parse_retry(value)) {
            retry_ms_ = ms;
        }
    }
    release_if_large(scratch_);
}

void SseParser::dispatch() {
    fields_pending_ = false;
    if (id_dirty_) {
        last_event_id_ = id_buffer_;
        id_dirty_ = false;
    }
    if (data_.empty()) {
        event_type_.clear();
        return;
    }
    emit(std::string_view(data_).substr(0, data_.size() - 1));
    data_.clear();
    event_type_.clear();
    release_if_large(data_);
}

bool SseParser::finish() {
    const bool pending = has_partial();
    line_.clear();
    data_.clear();
    event_type_.clear();
    release_if_large(line_);
    release_if_large(data_);
    // A new stream's id buffer starts from the last event ID string, as Chromium seeds the parser
    // of a reconnection (the spec's buffer would restart empty); an `id:` of the discarded partial
    // event is forgotten.
    id_buffer_ = last_event_id_;
    id_dirty_ = false;
    fields_pending_ = false;
    skip_lf_ = false;
    at_start_ = true;
    bom_matched_ = 0;
    return pending;
}

bool SseParser::has_partial() const noexcept {
    return !line_.empty() || fields_pending_ || (at_start_ && bom_matched_ > 0);
}

void SseParser::fail(std::string message) {
    error_ = std::move(message);
    std::string().swap(line_);
    std::string().swap(scratch_);
    std::string().swap(data_);
    event_type_.clear();
    fields_pending_ = false;
    id_dirty_ = false;
}

}  // namespace parley::net
