"""A second Flask app for perfkit's recorded test inputs: Flask's tutorial blog ("flaskr")
on PostgreSQL through raw psycopg 3, with Jinja templates, a Locust load and failure /
profiling switches. Recorded by ``tests/data/record_blog.py`` into ``tests/data/blog/``.
"""
