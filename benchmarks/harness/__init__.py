"""What the benchmarks share, one module a responsibility:

* `report`: progress on stderr, PASS or MISS, the tables of figures printed on stdout;
* `processes`: a step run in a fresh interpreter, and its memory figures;
* `installation`: a work folder, a throw-away PostgreSQL server and the environment of the
  `rempart` commands run against it, Superset on free ports;
* `sales`: the French sales exports that the transform, freshness and dashboards benchmarks land;
* `options`: their command lines (the parser, argument types).
"""
