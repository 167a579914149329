# SynAck: two commands do all the set-up on a fresh Debian machine with Python 3.11+.
#   make run    set up, then launch the app on the bundled demo
#               (make run ARGS='...' passes arguments to synack)
#               (no display: renders the demo diagram to synack-demo.png instead)
#   make test   set up, then lint (ruff, mypy) and run the whole test suite headless
# Set-up = the Debian libraries Qt needs (apt-get when root, otherwise the exact
# command to run is printed) + a virtual environment in .venv with the project.

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp
# Qt offscreen and xcb, a CJK font for Chinese labels, tshark (tests check our captures),
# desktop-file-validate (tests check resources/synack.desktop)
DEBS   := libgl1 libegl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3 \
          libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 \
          fonts-wqy-microhei tshark desktop-file-utils xvfb openbox libxtst6

.PHONY: run test lint system-deps clean

run: $(STAMP)
	$(VENV)/bin/synack $(ARGS)

test: lint
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check core gui resources tests
	$(VENV)/bin/mypy

system-deps:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "synack needs Python 3.11 or newer, found " + sys.version.split()[0])'
	@debs="$(DEBS)"; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || debs="$$debs python3-venv"; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
	  echo "synack: not a Debian system; make sure Qt's libraries (GL, EGL, xkbcommon, fontconfig) are installed"; \
	  exit 0; \
	fi; \
	missing=""; \
	for p in $$debs; do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "synack: installing Debian packages:$$missing"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections; \
	  apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "synack: these Debian packages are missing; install them, then run make again:"; \
	  case "$$missing" in *tshark*) echo '  echo "wireshark-common wireshark-common/install-setuid boolean false" | sudo debconf-set-selections';; esac; \
	  echo "  sudo apt-get install -y --no-install-recommends$$missing"; \
	  exit 1; \
	fi

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache synack-demo.png
