import json, re, sqlite3, time
def parse(n):
    for i in range(n):
        json.loads(json.dumps({"a": list(range(50)), "b": "x" * 100}))
def regex(n):
    pat = re.compile(r"(\w+)@(\w+)\.com")
    for i in range(n):
        pat.findall("alice@example.com bob@test.com " * 20)
def db(n):
    con = sqlite3.connect(":memory:")
    con.execute("create table t(a int, b text)")
    con.executemany("insert into t values (?, ?)", [(i, str(i)) for i in range(n)])
    for i in range(50):
        con.execute("select count(*), sum(a) from t where b like ?", (f"%{i}%",)).fetchone()
t0 = time.time()
while time.time() - t0 < 3:
    parse(2000); regex(2000); db(5000)
