#include "common/ids.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <random>

namespace parley {

namespace {

std::mt19937_64& thread_rng() {
    thread_local std::mt19937_64 rng{[] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device()};
        return std::mt19937_64{seed};
    }()};
    return rng;
}

constexpr std::string_view kHex = "0123456789abcdef";

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::string new_uuid_v7() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    auto ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now).count()
    );
    const std::uint64_t r1 = thread_rng()();
    const std::uint64_t r2 = thread_rng()();
    // Monotonic per thread (RFC 9562 §6.2, method 1): within one millisecond, the 12 bits of
    // rand_a count up from a random start below 2048, so ids made one after another on a thread
    // sort in the order they were made (events of one turn stored in the same millisecond, ties
    // in (created_at, id) orders). On overflow the millisecond moves on by one.
    thread_local std::uint64_t last_ms = 0;
    thread_local std::uint32_t counter = 0;
    if (ms <= last_ms) {
        ms = last_ms;
        if (++counter > 0xFFF) {
            ++ms;
            counter = static_cast<std::uint32_t>(r2 >> 53);  // 11 random bits
        }
    } else {
        counter = static_cast<std::uint32_t>(r2 >> 53);
    }
    last_ms = ms;

    std::array<std::uint8_t, 16> b{};
    for (int i = 0; i < 6; ++i) {
        b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
    }
    for (std::size_t i = 6; i < 16; ++i) {
        const std::uint64_t src = i < 11 ? r1 : r2;
        b[i] = static_cast<std::uint8_t>(src >> (8 * (i % 8)));
    }
    b[6] = static_cast<std::uint8_t>(0x70 | ((counter >> 8) & 0x0F));  // version 7, rand_a
    b[7] = static_cast<std::uint8_t>(counter & 0xFF);
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // variant 10

    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(kHex[b[i] >> 4]);
        out.push_back(kHex[b[i] & 0x0F]);
    }
    return out;
}

std::string uuid_v8_from_hex(std::string hex) {
    hex.resize(32, '0');
    hex[12] = '8';                  // version 8
    hex[16] = "89ab"[hex[16] % 4];  // variant 10
    return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
           hex.substr(16, 4) + '-' + hex.substr(20, 12);
}

bool is_uuid(std::string_view text) noexcept {
    if (text.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_position ? text[i] != '-' : !is_hex(text[i])) {
            return false;
        }
    }
    return true;
}

std::string new_request_id() {
    // "req_" + 24 hex digits: short in logs, 96 random bits.
    std::string out = "req_";
    const std::uint64_t a = thread_rng()();
    const std::uint64_t b = thread_rng()();
    for (int i = 0; i < 16; ++i) {
        out.push_back(kHex[(a >> (4 * i)) & 0x0F]);
    }
    for (int i = 0; i < 8; ++i) {
        out.push_back(kHex[(b >> (4 * i)) & 0x0F]);
    }
    return out;
}

bool is_sane_request_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128) {
        return false;
    }
    for (const char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace parley
