#include "app/secrets.hpp"

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include "common/strings.hpp"

namespace parley::app {

Result<std::string> load_or_create_jwt_secret(const std::string& data_dir) {
    namespace fs = std::filesystem;
    const fs::path file = fs::path(data_dir) / "jwt_secret";
    std::error_code ec;
    fs::create_directories(data_dir, ec);
    if (ec) {
        return make_error(ErrorType::api, "cannot create data directory " + data_dir, ec.message());
    }
    if (fs::exists(file)) {
        std::ifstream in(file);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string secret(trim(ss.str()));
        if (secret.size() < 32) {
            return make_error(
                ErrorType::api, file.string() + " holds a secret shorter than 32 bytes"
            );
        }
        return secret;
    }
    if (sodium_init() < 0) {
        return make_error(ErrorType::api, "libsodium failed to initialise");
    }
    std::array<unsigned char, 32> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::array<char, 65> hex{};
    sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        return make_error(ErrorType::api, "cannot write " + file.string());
    }
    const std::string secret(hex.data(), 64);
    const std::string line = secret + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) {
        return make_error(ErrorType::api, "cannot write " + file.string());
    }
    return secret;
}

}  // namespace parley::app
