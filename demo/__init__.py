"""Example services that sign people in through vahva (not part of the vahva package)."""
