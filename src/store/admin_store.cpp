#include "store/admin_store.hpp"

#include <stdexcept>

#include "store/store.hpp"

namespace parley::store {

AdminStore& admin_store(Store& store) {
    auto* admin = dynamic_cast<AdminStore*>(&store);
    if (admin == nullptr) {
        throw std::logic_error("this store does not implement AdminStore");
    }
    return *admin;
}

}  // namespace parley::store
