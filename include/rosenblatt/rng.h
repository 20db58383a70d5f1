/* SPDX-License-Identifier: MIT */
/* Small deterministic random numbers (not for cryptography). */
#ifndef ROSENBLATT_RNG_H
#define ROSENBLATT_RNG_H

#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014; the increment and mixing constants as published
 * there): advances *state, returns 64 random bits. Good for sampling
 * positions and for seeding larger generators. */
static inline uint64_t rb_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
