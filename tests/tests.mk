# placeholder, replaced by the tests work
