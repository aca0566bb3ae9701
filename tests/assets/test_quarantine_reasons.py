"""The briefing's data-quality line groups quarantined rows by the kind of their reason."""

import duckdb

from assets.briefing_assets import top_quarantine_reasons
from assets.warehouse import prepare


def test_reasons_are_grouped_by_kind_not_by_their_details(tmp_path):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    prepare(conn)
    reasons = ([f"duplicate of event {i:032x}" for i in range(4)] + ["duplicate of document ticket-7"]
               + ["timestamp not parseable: 2026-07-05 25:00:00", "timestamp not parseable: soon"]
               + ["value 2000.0 above maximum 1440.0 of measure minutes", "value 1500.5 above maximum 1440.0 of measure minutes",
                  "value -3.0 below minimum 0.0 of measure visits", "segment channel missing"])
    conn.executemany("insert into raw.quarantine values ('desk', null, 'f.csv', ?, ?, '{}')", list(enumerate(reasons)))
    conn.execute("insert into raw.quarantine values ('other', null, 'g.csv', 0, 'duplicate of event x', '{}')")
    assert top_quarantine_reasons(conn, "desk", limit=10) == [
        ("duplicate of event", 4), ("timestamp not parseable", 2), ("value above maximum 1440.0 of measure minutes", 2),
        ("duplicate of document", 1), ("segment channel missing", 1), ("value below minimum 0.0 of measure visits", 1)]
