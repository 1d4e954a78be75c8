"""Display helpers: CSV downloads never carry a live spreadsheet formula."""

import pandas as pd

from ui.fmt import csv_bytes


def test_cells_a_spreadsheet_would_run_are_defused():
    table = pd.DataFrame({"who": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "alice"], "n": [1, 2, 3, 4, 5]})
    lines = csv_bytes(table).decode().splitlines()
    assert lines[1:] == ['"\'=HYPERLINK(""http://x"")",1', "'+1,2", "'-2,3", "'@SUM(A1),4", "alice,5"]
