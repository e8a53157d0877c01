// SPDX-License-Identifier: GPL-2.0-only
/* The record both engines fill for stats: storage and lookups, no engine. */
#include <stdlib.h>
#include <string.h>

#include "served.h"

static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 4;
	void *p;

	if (need <= *cap)
		return arr;
	while (n < need)
		n *= 2;
	p = realloc(arr, n * size);
	if (!p)
		return NULL;
	memset((char *)p + *cap * size, 0, (n - *cap) * size);
	*cap = n;
	return p;
}

void served_add_map(struct served_set *set, __u32 map_id)
{
	size_t i;

	for (i = 0; i < set->nr_maps && set->maps[i] != map_id; i++)
		;
	if (map_id && i == set->nr_maps && i < SERVED_MAX_MAPS)
		set->maps[set->nr_maps++] = map_id;
}

struct served *served_add(struct served_set *set)
{
	struct served *l = grow(set->list, &set->cap, set->nr + 1, sizeof(*l));

	if (!l)
		return NULL;
	set->list = l;
	return &l[set->nr++];
}

int served_add_label(struct served_label *labels, size_t *nr, size_t max, const char *name,
		     const char *value)
{
	char *v;

	if (*nr >= max)
		return -1;
	v = strdup(value ? value : "");
	if (!v)
		return -1;
	labels[*nr].name = name;
	labels[(*nr)++].value = v;
	return 0;
}

struct served_line *served_add_line(struct served *s, int line, const char *source)
{
	struct served_line *l = realloc(s->lines, (s->nr_lines + 1) * sizeof(*l));

	if (!l)
		return NULL;
	s->lines = l;
	l = &l[s->nr_lines];
	memset(l, 0, sizeof(*l));
	l->line = line;
	l->source = strdup(source ? source : "");
	if (!l->source)
		return NULL;
	s->nr_lines++;
	return l;
}

void served_line_event(struct served_line *l, const char *name, unsigned long long value)
{
	size_t i;

	for (i = 0; i < l->nr_events; i++)
		if (!strcmp(l->events[i].name, name)) {
			l->events[i].value += value;
			return;
		}
	if (l->nr_events >= SERVED_MAX_EVENTS)
		return;
	l->events[l->nr_events].name = name;
	l->events[l->nr_events++].value = value;
}

int served_add_sockopt(struct served *s, const char *option, const char *result,
		       unsigned long long value)
{
	struct served_sockopt *o;
	size_t i;

	for (i = 0; i < s->nr_sockopts; i++)
		if (!strcmp(s->sockopts[i].option, option) && !strcmp(s->sockopts[i].result, result)) {
			s->sockopts[i].value += value;
			return 0;
		}
	o = realloc(s->sockopts, (s->nr_sockopts + 1) * sizeof(*o));
	if (!o)
		return -1;
	s->sockopts = o;
	o[s->nr_sockopts++] = (struct served_sockopt){ option, result, value };
	return 0;
}

struct served_series *served_add_series(struct served_set *set, const char *name,
					const char *help)
{
	struct served_series *l = grow(set->series, &set->cap_series, set->nr_series + 1,
				       sizeof(*l));

	if (!l)
		return NULL;
	set->series = l;
	l = &l[set->nr_series++];
	l->name = name;
	l->help = help;
	return l;
}

struct served_sample *served_add_sample(struct served_series *series)
{
	struct served_sample *s = realloc(series->samples,
					  (series->nr_samples + 1) * sizeof(*s));

	if (!s)
		return NULL;
	series->samples = s;
	s = &s[series->nr_samples++];
	memset(s, 0, sizeof(*s));
	return s;
}

const char *served_label(const struct served *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nr_labels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

unsigned long long served_event(const struct served_line *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->nr_events; i++)
		if (!strcmp(l->events[i].name, name))
			return l->events[i].value;
	return 0;
}

const struct served *served_of_socket(const struct served_set *set, __u32 map_id,
				      __u64 cgroup_id, bool *ours)
{
	const struct served *found = NULL;
	size_t i;

	*ours = false;
	for (i = 0; i < set->nr_maps; i++)
		if (map_id && set->maps[i] == map_id)
			*ours = true;
	if (!*ours)
		return NULL;
	for (i = 0; i < set->nr; i++) {
		const struct served *s = &set->list[i];

		if (s->states_map_id != map_id)
			continue;
		/* A map of one program's bridge, or of several cgroups: the socket's picks. */
		if (!s->cgroup || s->cgroup_id == cgroup_id)
			found = s;
	}
	return found;
}

/* Everything read, not the sources: what a refresh reads again. */
static void free_records(struct served_set *set)
{
	size_t i, j;

	for (i = 0; i < set->nr; i++) {
		struct served *s = &set->list[i];

		for (j = 0; j < s->nr_labels; j++)
			free(s->labels[j].value);
		for (j = 0; j < s->nr_lines; j++)
			free(s->lines[j].source);
		free(s->lines);
		free(s->sockopts);
		free(s->cgroup);
	}
	free(set->list);
	set->list = NULL;
	set->nr = set->cap = 0;
	for (i = 0; i < set->nr_series; i++) {
		for (j = 0; j < set->series[i].nr_samples; j++) {
			free(set->series[i].samples[j].labels[0].value);
			free(set->series[i].samples[j].labels[1].value);
		}
		free(set->series[i].samples);
	}
	free(set->series);
	set->series = NULL;
	set->nr_series = set->cap_series = 0;
}

int served_refresh(struct served_set *set)
{
	size_t i;

	free_records(set);
	for (i = 0; i < set->nr_src; i++)
		if (set->src[i].read(set, set->src[i].priv))
			return -1;
	return 0;
}

void served_free(struct served_set *set)
{
	size_t i;

	free_records(set);
	for (i = 0; i < set->nr_src; i++)
		if (set->src[i].close)
			set->src[i].close(set->src[i].priv);
	set->nr_src = 0;
}
