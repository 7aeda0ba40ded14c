// A small reader over a libFuzzer input, for harnesses that take a few parameters from its first
// bytes and the rest as data; and the check that makes a broken invariant a crash libFuzzer keeps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace parley::fuzz {

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size)
        : rest_(reinterpret_cast<const char*>(data), size) {}

    // The next byte, 0 once the input is used up.
    std::uint8_t byte() {
        if (rest_.empty()) {
            return 0;
        }
        const auto b = static_cast<std::uint8_t>(rest_.front());
        rest_.remove_prefix(1);
        return b;
    }

    // Up to `n` bytes.
    std::string_view take(std::size_t n) {
        const auto piece = rest_.substr(0, n);
        rest_.remove_prefix(piece.size());
        return piece;
    }

    std::string_view rest() const noexcept { return rest_; }

private:
    std::string_view rest_;
};

// Aborts (a crash to libFuzzer, with the input saved) when an invariant does not hold. Unlike
// assert(), kept in every build type.
inline void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

}  // namespace parley::fuzz
