#include "correlate/stable_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace connreset {
namespace {

struct Item {
  uint64_t key = 0;
  int value = 0;
};

// Against std::map as the reference, with keys drawn from a small range so that probe runs
// collide, wrap around the end of the index and are cut by erases in their middle.
TEST(StableTable, MatchesAMapThroughInsertsAndErases) {
  StableTable<Item> table;
  std::map<uint64_t, Item*> ref;
  std::mt19937_64 rng(16);
  for (int step = 0; step < 200'000; ++step) {
    // multiples of 2^20 share their low bits: a hash of the low bits alone would put them all in one slot
    const uint64_t key = (rng() % 3000) << 20;
    if (rng() % 3 == 0) {
      auto it = ref.find(key);
      if (it != ref.end()) {
        table.erase(key);
        ref.erase(it);
      }
    } else if (!ref.count(key)) {
      Item& item = table.insert(key);
      ASSERT_EQ(item.key, 0u) << "a reused element comes back reset";
      item.key = key;
      item.value = step;
      ref[key] = &item;
    }
    if (step % 997 == 0) {
      ASSERT_EQ(table.size(), ref.size());
      for (const auto& [k, p] : ref) {
        ASSERT_EQ(table.find(k), p) << "element moved or lost: key " << k;
        ASSERT_EQ(p->key, k);
      }
    }
  }
  for (uint64_t k = 0; k < 3000; ++k) {
    const uint64_t key = k << 20;
    EXPECT_EQ(table.find(key), ref.count(key) ? ref[key] : nullptr);
  }
}

TEST(StableTable, ElementsKeepTheirAddressWhileTheIndexGrows) {
  StableTable<Item> table;
  Item& first = table.insert(7);
  first.value = 42;
  for (uint64_t k = 100; k < 100'000; ++k) table.insert(k).key = k;
  EXPECT_EQ(table.find(7), &first);
  EXPECT_EQ(first.value, 42);
  EXPECT_EQ(table.size(), 99'901u);
  EXPECT_EQ(table.find(99), nullptr);
  table.erase(7);
  EXPECT_EQ(table.find(7), nullptr);
  table.erase(7);  // absent: nothing happens
  EXPECT_EQ(table.size(), 99'900u);
  // the last element freed is the next one handed out, reset
  Item& again = table.insert(1);
  EXPECT_EQ(&again, &first);
  EXPECT_EQ(again.value, 0);
}

// Elements of the correlator's size and more: past the first small slabs they come from 2 MiB
// chunks (and the index from zeroed memory); each is constructed before use, keeps its address
// and is destroyed with the table.
struct Big {
  static inline int live = 0;
  uint64_t key = 0;
  std::string name = "fresh";  // constructed: not all zero bytes
  char pad[400] = {};
  Big() { ++live; }
  Big(const Big&) = delete;
  Big& operator=(Big&& o) noexcept {
    key = o.key;
    name = std::move(o.name);
    return *this;
  }
  ~Big() { --live; }
};

TEST(StableTable, LargeElementsFromHugeSlabsAreConstructedAndDestroyed) {
  {
    StableTable<Big> table;
    std::vector<Big*> items;
    for (uint64_t k = 1; k <= 30'000; ++k) {  // ~12 MiB of elements: several 2 MiB slabs
      Big& b = table.insert(k);
      ASSERT_EQ(b.name, "fresh") << "element " << k << " not constructed";
      b.key = k;
      b.name = "item " + std::to_string(k);
      items.push_back(&b);
    }
    EXPECT_GE(Big::live, 30'000);
    for (uint64_t k = 1; k <= 30'000; k += 7) {
      ASSERT_EQ(table.find(k), items[k - 1]);
      ASSERT_EQ(items[k - 1]->name, "item " + std::to_string(k));
    }
    for (uint64_t k = 1; k <= 30'000; k += 2) table.erase(k);
    EXPECT_EQ(table.size(), 15'000u);
    EXPECT_EQ(table.find(3), nullptr);
    ASSERT_EQ(table.find(4), items[3]);
    Big& again = table.insert(100'000);  // the last freed element, reset
    EXPECT_EQ(&again, items[29'998]);
    EXPECT_EQ(again.name, "fresh");
  }
  EXPECT_EQ(Big::live, 0) << "every element destroyed with the table";
}

TEST(ZeroedMemory, IsZeroedAndHugeMappingsAreAlignedTo2MiB) {
  ZeroedMemory small(100);
  ASSERT_NE(small.get(), nullptr);
  EXPECT_EQ(static_cast<const unsigned char*>(small.get())[99], 0);
  ZeroedMemory big(ZeroedMemory::kHugePage + 1);
  ASSERT_NE(big.get(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.get()) % ZeroedMemory::kHugePage, 0u);
  auto* bytes = static_cast<unsigned char*>(big.get());
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[ZeroedMemory::kHugePage], 0);
  bytes[ZeroedMemory::kHugePage] = 1;  // writable to its end
  ZeroedMemory moved = std::move(big);
  EXPECT_EQ(big.get(), nullptr);
  EXPECT_EQ(static_cast<unsigned char*>(moved.get())[ZeroedMemory::kHugePage], 1);
}

TEST(StableTable, EmptyTableFindsAndErasesNothing) {
  StableTable<Item> table;
  EXPECT_EQ(table.find(0), nullptr);
  table.erase(0);
  EXPECT_EQ(table.size(), 0u);
  table.insert(0).value = 1;  // key 0 is a key like any other
  ASSERT_NE(table.find(0), nullptr);
  EXPECT_EQ(table.find(0)->value, 1);
}

}  // namespace
}  // namespace connreset
