#include "correlate/flat_multi_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace connreset {
namespace {

// A hash that puts every key of a residue class in one probe run: runs collide, wrap around the
// end of the array and are cut by removals in their middle.
struct CoarseHash {
  size_t operator()(uint64_t k) const noexcept { return k % 7; }
};

using Index = FlatMultiIndex<uint64_t, int, CoarseHash>;

std::vector<int> values_of(const Index& index, uint64_t key) {
  std::vector<int> out;
  index.for_each(key, [&](int v) { out.push_back(v); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int> values_of(const std::multimap<uint64_t, int>& ref, uint64_t key) {
  std::vector<int> out;
  auto [b, e] = ref.equal_range(key);
  for (auto i = b; i != e; ++i) out.push_back(i->second);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FlatMultiIndex, MatchesAMultimapThroughAddsAndRemoves) {
  Index index;
  std::multimap<uint64_t, int> ref;
  std::mt19937_64 rng(14);
  for (int step = 0; step < 100'000; ++step) {
    const uint64_t key = rng() % 500;
    const int value = static_cast<int>(rng() % 4);
    if (rng() % 5 < 2) {
      auto [b, e] = ref.equal_range(key);
      auto it = std::find_if(b, e, [&](const auto& kv) { return kv.second == value; });
      const bool had = it != e;
      if (had) ref.erase(it);
      ASSERT_EQ(index.remove(key, value), had) << "step " << step;
    } else {
      ref.emplace(key, value);
      index.add(key, value);
    }
    ASSERT_EQ(index.size(), ref.size());
    if (step % 97 == 0) {
      for (uint64_t k = 0; k < 500; ++k) {
        ASSERT_EQ(values_of(index, k), values_of(ref, k)) << "key " << k << " at step " << step;
        ASSERT_EQ(index.contains(k), ref.count(k) > 0);
      }
    }
  }
}

TEST(FlatMultiIndex, KeepsDuplicateEntriesAndRemovesOneAtATime) {
  Index index;
  index.add(3, 1);
  index.add(3, 1);
  index.add(10, 2);  // the same probe run as 3 (10 % 7 == 3)
  EXPECT_EQ(values_of(index, 3), (std::vector<int>{1, 1}));
  EXPECT_TRUE(index.remove(3, 1));
  EXPECT_EQ(values_of(index, 3), (std::vector<int>{1}));
  EXPECT_EQ(values_of(index, 10), (std::vector<int>{2}));
  EXPECT_FALSE(index.remove(3, 2));  // no such value under that key
  EXPECT_FALSE(index.remove(17, 1));  // no such key, same run
  EXPECT_TRUE(index.any_of(10, [](int v) { return v == 2; }));
  EXPECT_FALSE(index.any_of(10, [](int v) { return v == 1; }));
  index.clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.contains(3));
  EXPECT_FALSE(index.contains(10));
  index.add(3, 5);  // usable after clear
  EXPECT_EQ(values_of(index, 3), (std::vector<int>{5}));
}

// Consecutive keys (socket generations) under an identity hash, half of them removed.
TEST(FlatMultiIndex, ConsecutiveKeysUnderAnIdentityHash) {
  FlatMultiIndex<uint64_t, uint64_t, std::hash<uint64_t>> index;
  for (uint64_t k = 1; k <= 20'000; ++k) index.add(k, k);
  for (uint64_t k = 1; k <= 20'000; k += 2) ASSERT_TRUE(index.remove(k, k));
  for (uint64_t k = 1; k <= 20'000; ++k) ASSERT_EQ(index.contains(k), k % 2 == 0) << k;
  EXPECT_EQ(index.size(), 10'000u);
}

}  // namespace
}  // namespace connreset
