// Redis for tests. `test_redis_url()` is the server CTest's fixture started: PARLEY_TEST_REDIS_URL
// holds its URL, or `@FILE` naming the file the fixture wrote it to (its port is picked when the
// fixture runs, after CTest has fixed the environment); tests skip when the variable is unset, so
// the others still run by hand without Redis. `TempRedis` is a private throw-away server
// (scripts/redis-temp) for the tests that stop and restart one.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include <sys/wait.h>

namespace parley::testing {

// The fixture's URL; nullopt when PARLEY_TEST_REDIS_URL is unset. Throws when it names a file
// that holds no URL (the fixture failed: the test must fail, not skip).
inline std::optional<std::string> test_redis_url() {
    const char* value = std::getenv("PARLEY_TEST_REDIS_URL");
    if (value == nullptr || *value == '\0') {
        return std::nullopt;
    }
    std::string url = value;
    if (url.starts_with('@')) {
        std::ifstream file(url.substr(1));
        url.clear();
        std::getline(file, url);
        if (url.empty()) {
            throw std::runtime_error("no Redis URL in " + std::string(value + 1));
        }
    }
    return url;
}

// Runs a shell command and returns its standard output; throws if it exits non-zero.
inline std::string run_command(const std::string& command) {
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
        throw std::runtime_error("cannot run: " + command);
    }
    std::string out;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) {
        out += buffer;
    }
    const int status = pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("failed: " + command);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
        out.pop_back();
    }
    return out;
}

// A redis-server of the test's own on a free port, stopped with the object. stop() and start()
// take it down and bring it back on the same port, as an outage would.
class TempRedis {
public:
    TempRedis() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "parley-redis-test.XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir_ = pattern;
        url_ = run_command(script() + " start " + dir_ + " 2>/dev/null");
        port_ = url_.substr(url_.rfind(':') + 1);
    }

    ~TempRedis() {
        try {
            stop();
        } catch (...) {  // NOLINT(bugprone-empty-catch): nothing to do in a destructor
        }
    }

    TempRedis(const TempRedis&) = delete;
    TempRedis& operator=(const TempRedis&) = delete;

    const std::string& url() const noexcept { return url_; }

    const std::string& port() const noexcept { return port_; }

    // Stops the server (SIGTERM, no save); idempotent.
    void stop() {
        if (running_) {
            running_ = false;
            run_command(script() + " stop " + dir_ + " 2>/dev/null");
        }
    }

    // Starts it again on the same port.
    void start() {
        if (!running_) {
            run_command(script() + " start --port " + port_ + " " + dir_ + " 2>/dev/null");
            running_ = true;
        }
    }

private:
    static std::string script() { return std::string(PARLEY_SOURCE_DIR) + "/scripts/redis-temp"; }

    std::string dir_;
    std::string url_;
    std::string port_;
    bool running_ = true;
};

}  // namespace parley::testing
