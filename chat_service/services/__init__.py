"""Domain actions: each function validates its input, changes state in one
transaction, queues the events that change implies and commits. No Flask
request objects in here; REST handlers and socket handlers call the same functions.
"""
