# Backprop by hand: the course's commands. Run `make help` for the list.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
A      ?= ps1_perceptron
TO     ?= canvas
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
N      ?= 8
UV_VERSION := 0.13.8
# the grader never runs with user or environment customisation (-E -s)
GRADER := $(BIN)/python -E -s -m grader
export PATH := $(CURDIR)/$(BIN):$(PATH)
# course_server (in this folder) runs nbgrader's Validate in a separate process.
LAB_EXTENSIONS := --ServerApp.jpserver_extensions=course_server=True

HUB_PORT ?= 8000
# JupyterHub's proxy (npm), an exact pin, installed into .venv/chp by `make hub-install`
CHP_VERSION := 5.3.0
CHP_STAMP   := $(VENV)/chp/.installed-$(CHP_VERSION)
HUB_COURSE  ?= /home/bp-instructor/backprop-by-hand
# `make test` also installs the proxy where the hub test can run (root, npm present);
# elsewhere that test is skipped with the reason (and fails under CI=true).
TEST_DEPS := $(STAMP) $(if $(and $(filter 0,$(shell id -u)),$(shell command -v npm)),$(CHP_STAMP))

.PHONY: help install lab test check lint release solutions grade report export serve-grading bench site bundle clean hub hub-install hub-grade

help:
	@echo "make lab        install (if needed) and serve JupyterLab on the course"
	@echo "make test       install (if needed) and run every check (what CI runs; about 9 min on 2 idle cores)"
	@echo "make check      the fast tier for every edit: lint, the unit tests, release/ in sync (under a minute)"
	@echo "make lint       ruff on the whole course"
	@echo "make install    install the course's pinned environment into .venv (make lab and make test do it)"
	@echo "make clean      remove .venv and every built or cached folder"
	@echo "make release    regenerate release/ from source/ (instructors)"
	@echo "make solutions  regenerate solutions/ from source/ (instructors)"
	@echo "make grade A=ps1_perceptron [JOBS=n] [FORCE=1] [SCHEDULER=tcp://host:8786] [UNSAFE=1: no sandbox, trusted work only]"
	@echo "               autograde submitted/ in the sandbox: feedback, grades.csv, report/"
	@echo "make report A=ps1_perceptron  rebuild the class report from the gradebook"
	@echo "make export A=ps1_perceptron TO=canvas|moodle|parts [ROSTER=roster.csv]"
	@echo "               grades for the LMS, per part, with the late penalty, in exports/"
	@echo "make serve-grading [LIMIT=600] [BEFORE_DUE=tests|nothing|everything]"
	@echo "               grade submissions from the exchange as they come and release their"
	@echo "               feedback (one graded submission per LIMIT s); Ctrl-C stops it"
	@echo "make bench N=8  time plain nbgrader against make grade on N submissions"
	@echo "make site       build the course site into _build/site (open _build/site/index.html)"
	@echo "               with a zip per assignment in _build/site/downloads/ (make bundle: the zips alone)"
	@echo "make hub [LIMIT=600] [BEFORE_DUE=tests|nothing|everything] [JOBS=n] [GRADING=0]"
	@echo "               (root) JupyterHub on 127.0.0.1:$(HUB_PORT): an instructor and 3 students,"
	@echo "               with the grading service (make serve-grading's; GRADING=0: none)"
	@echo "make hub-grade A=ps1_perceptron   (root) grade the hub instructor's collected submissions"

install: $(STAMP)

$(STAMP): requirements.txt requirements/student.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch first with pip (it finds the local CPU build), then uv for the rest (fast);
	@# plain pip if uv cannot be had. Every version is pinned in requirements.txt and
	@# the student's set it includes, requirements/student.txt.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		"$$(grep '^torch==' requirements/student.txt)" uv==$(UV_VERSION) \
	&& $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt \
	|| $(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/jupyter server extension list 2>&1 | grep -q "nbgrader.server_extensions.formgrader.*enabled"
	$(BIN)/jupyter labextension list 2>&1 | grep -i "nbgrader.*enabled"
	touch $(STAMP)

lab: $(STAMP)
	@mkdir -p exchange && chmod 1777 exchange || { echo "make lab cannot create nbgrader's exchange folder exchange/ here; make the course folder writable."; exit 1; }
	@echo "Serving JupyterLab on the course; open the URL printed below (Ctrl-C stops it)."
	PYTHONPATH=$(CURDIR) $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) \
		--ServerApp.root_dir=$(CURDIR) $(LAB_EXTENSIONS) $(if $(filter 0,$(shell id -u)),--allow-root)

# the fast tier: lint, then the tests that need no sandbox, no browser and no grading run
# (test_preprocessors.py starts one plain kernel)
CHECK_TESTS := tests/test_rules.py tests/test_mistakes.py tests/test_mistakes_ps3.py \
	tests/test_release.py tests/test_lint.py tests/test_lectures.py tests/test_helpers_hold_no_answer.py \
	tests/test_similarity.py tests/test_autograde.py tests/test_validate_summary.py \
	tests/test_task.py tests/test_submission.py tests/test_merge.py tests/test_cli.py \
	tests/test_preprocessors.py
check: $(STAMP)
	@scratch=$$(mktemp -d "$${TMPDIR:-/tmp}/bp-check-XXXXXX") || exit 1; \
	OMP_NUM_THREADS=1 $(BIN)/pytest -n $(JOBS) -p no:cacheprovider -q \
		--basetemp="$$scratch/t" $(CHECK_TESTS); \
	status=$$?; rm -rf "$$scratch"; exit $$status

# every test's scratch folder is under one temporary folder, removed at the end
test: $(TEST_DEPS)
	@scratch=$$(mktemp -d "$${TMPDIR:-/tmp}/bp-test-XXXXXX") || exit 1; \
	echo "pytest (scratch folders in $$scratch, removed at the end)"; \
	OMP_NUM_THREADS=1 $(BIN)/pytest -n $(JOBS) --dist loadscope -p no:cacheprovider \
		--durations=20 --basetemp="$$scratch/t" \
		--nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
		notebooks solutions tests; \
	status=$$?; rm -rf "$$scratch"; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .

release: $(STAMP)
	$(GRADER) release

solutions: $(STAMP)
	$(GRADER) solutions

grade: $(STAMP)
	$(GRADER) grade $(A) --jobs $(JOBS) $(if $(FORCE),--force) $(if $(UNSAFE),--unsafe) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER))

report: $(STAMP)
	$(GRADER) report $(A)

export: $(STAMP)
	$(GRADER) export $(A) --to $(TO) $(if $(ROSTER),--roster $(ROSTER)) $(if $(OUT),--out $(OUT))

serve-grading: $(STAMP)
	$(GRADER) serve --jobs $(JOBS) $(if $(LIMIT),--limit $(LIMIT)) \
		$(if $(BEFORE_DUE),--before-due $(BEFORE_DUE)) $(if $(UNSAFE),--unsafe)

bench: $(STAMP)
	$(BIN)/python -E -s bench/grading.py --n $(N) --jobs $(JOBS)

site: $(STAMP)
	$(BIN)/python website/build.py _build/site
	$(GRADER) bundle _build/site/downloads

# one zip per assignment (release notebook and helper files) in _build/downloads
bundle: $(STAMP)
	$(GRADER) bundle _build/downloads

hub-install: $(CHP_STAMP)

$(CHP_STAMP): | $(STAMP)
	@command -v npm >/dev/null || { echo "make hub needs npm (Node.js) to install configurable-http-proxy; install it (apt-get install npm) and run make hub again."; exit 1; }
	rm -rf $(VENV)/chp
	npm install --no-audit --no-fund --loglevel=error --prefix $(VENV)/chp configurable-http-proxy@$(CHP_VERSION)
	touch $(CHP_STAMP)

hub: $(STAMP) $(CHP_STAMP)
	@test "$$(id -u)" = 0 || { echo "make hub must run as root: it creates the Unix users and starts each user's server as that user (try: sudo make hub)."; exit 1; }
	$(BIN)/python hub/setup.py --passwords
	@echo "JupyterHub on http://127.0.0.1:$(HUB_PORT)/ : log in with a user and password above (Ctrl-C stops it)."
	@echo "$(if $(filter 0,$(GRADING)),No grading service (GRADING=0): grade with sudo make hub-grade.,The grading service grades what students submit; its lines are in the hub's log.)"
	BP_HUB_PORT=$(HUB_PORT) BP_GRADING=$(if $(GRADING),$(GRADING),1) BP_GRADING_LIMIT=$(LIMIT) \
		BP_GRADING_BEFORE_DUE=$(BEFORE_DUE) BP_GRADING_JOBS=$(JOBS) \
		$(BIN)/jupyterhub -f hub/jupyterhub_config.py

hub-grade: $(STAMP)
	@test "$$(id -u)" = 0 || { echo "make hub-grade must run as root (it grades in the root-only sandbox); try: sudo make hub-grade A=$(A)."; exit 1; }
	BP_EXCHANGE=$${BP_EXCHANGE:-/srv/nbgrader/exchange} $(GRADER) grade $(A) --jobs $(JOBS) --course $(HUB_COURSE); status=$$?; \
		chown -R bp-instructor $(HUB_COURSE); exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache _build test-artifacts
