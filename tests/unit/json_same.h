/* Test helper (tests/unit/test_json_fast.c, tests/fuzz/fuzz_json_inputs.c):
 * two jansson trees are the same, object keys in the same order as well
 * (the order in which a call's inputs are taken, and so which error a body
 * with two is told of first). */
#ifndef SB_TEST_JSON_SAME_H
#define SB_TEST_JSON_SAME_H

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

static inline bool json_same_tree(const json_t *a, const json_t *b)
{
	if (!a || !b || json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT: {
		if (json_object_size(a) != json_object_size(b))
			return false;
		void *ia = json_object_iter((json_t *)a);
		void *ib = json_object_iter((json_t *)b);
		while (ia && ib) {
			if (strcmp(json_object_iter_key(ia),
				   json_object_iter_key(ib)) != 0 ||
			    !json_same_tree(json_object_iter_value(ia),
					    json_object_iter_value(ib)))
				return false;
			ia = json_object_iter_next((json_t *)a, ia);
			ib = json_object_iter_next((json_t *)b, ib);
		}
		return !ia && !ib;
	}
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!json_same_tree(json_array_get(a, i),
					    json_array_get(b, i)))
				return false;
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b),
			      json_string_length(a)) == 0;
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL:
		return json_real_value(a) == json_real_value(b);
	default: /* true, false, null */
		return true;
	}
}

#endif
