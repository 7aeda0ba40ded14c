#include "net/ndjson_reader.hpp"

#include <cstring>
#include <utility>

namespace parley::net {

namespace {

// As in the SSE parser: a buffer grown for one huge line is given back afterwards.
constexpr std::size_t kKeepCapacity = std::size_t{64} << 10;

bool is_blank(std::string_view line) noexcept {
    return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Whether `size` bytes break the bound even if the last of them is the CR of a CRLF.
bool over_bound(std::size_t size, std::size_t max_line) noexcept {
    return size > max_line && size - max_line > 1;
}

std::string_view strip_cr(std::string_view line) noexcept {
    if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
    }
    return line;
}

}  // namespace

NdjsonReader::NdjsonReader(std::size_t max_line) : max_line_(max_line) {}

std::vector<std::string> NdjsonReader::feed(std::string_view bytes) {
    std::vector<std::string> out;
    if (failed()) {
        return out;
    }
    while (!bytes.empty()) {
        const void* hit = std::memchr(bytes.data(), '\n', bytes.size());
        if (hit == nullptr) {
            // One byte over the bound is allowed while it may be the CR of a CRLF.
            if (over_bound(line_.size() + bytes.size(), max_line_)) {
                fail();
                return out;
            }
            line_.append(bytes);
            return out;
        }
        const auto eol = static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data());
        if (line_.empty()) {
            take_line(bytes.substr(0, eol), out);
        } else {
            if (over_bound(line_.size() + eol, max_line_)) {
                fail();
                return out;
            }
            line_.append(bytes.substr(0, eol));
            take_line(line_, out);
            line_.clear();
            if (line_.capacity() > kKeepCapacity) {
                std::string().swap(line_);
            }
        }
        if (failed()) {
            return out;
        }
        bytes.remove_prefix(eol + 1);
    }
    return out;
}

void NdjsonReader::take_line(std::string_view line, std::vector<std::string>& out) {
    line = strip_cr(line);
    if (line.size() > max_line_) {
        fail();
        return;
    }
    if (!is_blank(line)) {
        out.emplace_back(line);
    }
}

std::optional<std::string> NdjsonReader::finish() {
    std::optional<std::string> last;
    if (!failed()) {
        std::vector<std::string> out;
        take_line(line_, out);
        if (!out.empty()) {
            last = std::move(out.front());
        }
    }
    std::string().swap(line_);
    return last;
}

void NdjsonReader::fail() {
    error_ = "NDJSON line longer than " + std::to_string(max_line_) + " bytes";
    std::string().swap(line_);
}

}  // namespace parley::net
