from fakedb.server import main

raise SystemExit(main())
