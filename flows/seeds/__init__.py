"""The seeds as the pipeline reads them: the one reader of every seed file (`reader`), the
departments and their directory groups, report recipients, the seeds whose columns changed
since dbt loaded them (`shapes`), and the suggestion of seed lines for a file no source claims.

May import `runtime`, `names` and `loaders`.
"""
