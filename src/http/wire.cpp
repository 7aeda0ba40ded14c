#include "http/wire.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>

namespace parley::http {

namespace {

std::string_view reason(int status) noexcept {
    switch (status) {
        case 100:
            return "Continue";
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 301:
            return "Moved Permanently";
        case 302:
            return "Found";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 413:
            return "Content Too Large";
        case 415:
            return "Unsupported Media Type";
        case 422:
            return "Unprocessable Content";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Unknown";
    }
}

void append_number(std::string& out, std::size_t n) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, end);
}

}  // namespace

namespace {

enum class Framing { length, chunked };

std::string serialize(const Response& res, const WireOptions& options, Framing framing) {
    std::size_t size = 64 + res.content_type.size() + res.body.size();
    for (const auto& [name, value] : res.headers) {
        size += name.size() + value.size() + 4;
    }
    std::string out;
    out.reserve(size);
    out += "HTTP/1.1 ";
    append_number(out, static_cast<std::size_t>(res.status));
    out += ' ';
    out += reason(res.status);
    out += "\r\n";
    if (!res.content_type.empty()) {
        out += "Content-Type: ";
        out += res.content_type;
        out += "\r\n";
    }
    for (const auto& [name, value] : res.headers) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    const bool bodiless_status = res.status < 200 || res.status == 204 || res.status == 304;
    if (framing == Framing::chunked) {
        if (!options.http10) {
            out += "Transfer-Encoding: chunked\r\n";
        }
    } else if (!bodiless_status) {
        out += "Content-Length: ";
        append_number(out, res.body.size());
        out += "\r\n";
    }
    if (!options.keep_alive) {
        out += "Connection: close\r\n";
    } else if (options.http10) {
        out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
    if (framing == Framing::length && !bodiless_status && !options.head_request) {
        out += res.body;
    }
    return out;
}

}  // namespace

std::string serialize_response(const Response& res, const WireOptions& options) {
    return serialize(res, options, Framing::length);
}

std::string serialize_stream_head(const Response& res, const WireOptions& options) {
    WireOptions o = options;
    if (o.http10) {
        o.keep_alive = false;  // no chunked encoding in HTTP/1.0: the body ends with the connection
    }
    return serialize(res, o, Framing::chunked);
}

ChunkFrame::ChunkFrame(std::size_t size, bool http10) noexcept {
    if (http10) {
        return;
    }
    const auto [end, ec] = std::to_chars(line_, line_ + 16, size, 16);
    end[0] = '\r';
    end[1] = '\n';
    head_size_ = static_cast<std::size_t>(end + 2 - line_);
}

void append_chunk(std::string& out, std::string_view data, bool http10, std::size_t skip) {
    if (data.empty()) {
        return;  // an empty chunk would end the body
    }
    const ChunkFrame frame(data.size(), http10);
    for (const std::string_view piece : {frame.head(), data, frame.tail()}) {
        const std::size_t taken = std::min(skip, piece.size());
        out.append(piece.substr(taken));
        skip -= taken;
    }
}

}  // namespace parley::http
